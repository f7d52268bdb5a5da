package spec

// ErrorPolicy is what a failed point does to the run (the spec's on_error).
type ErrorPolicy string

// The error policies.
const (
	ErrorContinue ErrorPolicy = "continue" // run the remaining points (the default)
	ErrorAbort    ErrorPolicy = "abort"    // start no further point
)

// Values lists the error policies.
func (ErrorPolicy) Values() []string { return []string{string(ErrorContinue), string(ErrorAbort)} }

// ArtifactFormat is the format of an artifact file.
type ArtifactFormat string

// The artifact formats runexp writes.
const (
	FormatCSV      ArtifactFormat = "csv"
	FormatJSON     ArtifactFormat = "json"
	FormatJSONL    ArtifactFormat = "jsonl"
	FormatMarkdown ArtifactFormat = "markdown"
	FormatChart    ArtifactFormat = "chart"
)

// ArtifactFormats are the artifact formats runexp writes, in the order the
// docs list them.
var ArtifactFormats = ArtifactFormat("").Values()

// Values lists the artifact formats.
func (ArtifactFormat) Values() []string {
	return []string{string(FormatCSV), string(FormatJSON), string(FormatJSONL), string(FormatMarkdown), string(FormatChart)}
}

var (
	_ Enum = ErrorPolicy("")
	_ Enum = ArtifactFormat("")
)
