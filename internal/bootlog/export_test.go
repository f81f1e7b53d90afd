package bootlog

// Exported for the external test package (render_test.go), which cannot live
// in package bootlog because render imports bootlog.
var (
	AnalyzeT = analyze
	LabBoot  = labBoot
	Find     = find
	Effects  = effects
	LineOf   = lineOf
)

const IDFstab = idFstab

// The tests read the compiled tables directly, in any order.
func init() { compiledTables() }
