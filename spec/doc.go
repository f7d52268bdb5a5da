// Package spec reads runexp spec files and reports every problem in them at
// once, each as "file:line:col: path: message" at its own key.
//
// Contract: Load/Parse decode a file strictly with the one Decoder (unknown
// keys, wrong types and values outside a closed vocabulary are all reported,
// with a did-you-mean, and never panic) and return an ErrorList. Parts that
// are substituted per point (sweep, steps, artifacts) stay YAML nodes until
// the planner decodes them. A configuration block's Validate reports its
// problems as FieldErrors, several at once through Problems; ErrorList's
// MergeFields positions each at its own key. A string type implementing Enum
// is a closed vocabulary: the decoder, the JSON Schema's enum and the docs
// take its values from its Values method. A Sweep counts its points (Count)
// and walks them one at a time (Each) without expanding them; a Scope
// remembers the environment values it read (EnvValues), so that printed
// plans can show ${env.NAME} instead of them.
package spec
