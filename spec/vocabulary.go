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

// ChartKind is what a chart artifact draws.
type ChartKind string

// The chart kinds.
const (
	ChartLine   ChartKind = "line"   // each y against x, one line per series value (the default)
	ChartBox    ChartKind = "box"    // the distribution of value per group
	ChartPareto ChartKind = "pareto" // one marker per row at (x, y), the undominated ones joined and labelled
)

// ChartKinds are the chart kinds, in the order the docs list them.
var ChartKinds = ChartKind("").Values()

// Values lists the chart kinds.
func (ChartKind) Values() []string {
	return []string{string(ChartLine), string(ChartBox), string(ChartPareto)}
}

// Aggregation is how an artifact folds rows together (artifacts'
// aggregate:).
type Aggregation string

// The aggregations.
const (
	// AggregateRepeat folds the repetitions of each point (sweep repeat: N)
	// into one row: n, and each number's mean with its 95 % Student-t
	// interval as <name>_mean, <name>_ci95_low, <name>_ci95_high.
	AggregateRepeat Aggregation = "repeat"
)

// Values lists the aggregations.
func (Aggregation) Values() []string { return []string{string(AggregateRepeat)} }

var (
	_ Enum = Aggregation("")
	_ Enum = ErrorPolicy("")
	_ Enum = ArtifactFormat("")
	_ Enum = ChartKind("")
)
