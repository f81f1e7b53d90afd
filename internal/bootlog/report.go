package bootlog

// Schema names the JSON document of `sshdoctor bootlog analyze --output
// json` (docs/bootlog.md); fields are only added within v1.
const Schema = "sshdoctor.bootlog/v1"

// ExitCode is the command's exit status for the report: 0 when the last boot
// is healthy, 1 when a problem was found.
func (r *Report) ExitCode() int {
	if r.Healthy {
		return 0
	}
	return 1
}

// IDOK is the finding ID of a healthy last boot.
const IDOK = idOK
