// Package schemas holds runexp.schema.json, the JSON Schema of spec files,
// generated from the Go types (internal/schema). The test in this package
// fails when the committed file is stale; regenerate with
//
//	go run ./cmd/runexp schema > schemas/runexp.schema.json
package schemas
