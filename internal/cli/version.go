package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// VersionSchema names the JSON document of `sshdoctor version --output json`.
const VersionSchema = "sshdoctor.version/v1"

// buildInfo is what this binary knows about its own build. It comes from
// the Go toolchain's build record (no subprocess, so --version stays fast):
// the commit and its time are there when the binary was built from a git
// checkout with VCS stamping on (go build's default; `make build` turns it
// on explicitly). Go records the commit's time, not the build's.
type buildInfo struct {
	Version    string `json:"version"`     // -ldflags -X cli.Version, else the module version, else "dev"
	Commit     string `json:"commit"`      // vcs.revision, or "unknown"
	CommitTime string `json:"commit_time"` // vcs.time (RFC 3339), or "unknown"
	Modified   bool   `json:"modified"`    // vcs.modified: built with uncommitted changes
	GoVersion  string `json:"go_version"`
	Platform   string `json:"platform"` // GOOS/GOARCH
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: Version, Commit: "unknown", CommitTime: "unknown", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// line is the one line of --version: "dev (commit 40b9d4c1, 2026-12-01T10:00:00Z, modified)".
func (b buildInfo) line() string {
	commit := b.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	s := fmt.Sprintf("%s (commit %s, %s", b.Version, commit, b.CommitTime)
	if b.Modified {
		s += ", modified"
	}
	return s + ")"
}

// NewCmdVersion builds `sshdoctor version`.
func NewCmdVersion(ios *IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print sshdoctor's version, the commit it was built from and the Go toolchain",
		Long: `Prints what the binary records about its build: the version, the git
commit and that commit's time (from Go's build information; "unknown" when the
binary was built without VCS stamping), whether the tree had uncommitted
changes, the Go version and the platform. --version prints the same in one line.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := readBuildInfo()
			if output == "json" {
				return writeJSONDoc(ios, struct {
					Schema string `json:"schema"`
					buildInfo
				}{VersionSchema, b})
			}
			modified := ""
			if b.Modified {
				modified = " (modified: built with uncommitted changes)"
			}
			fmt.Fprintf(ios.Out, "sshdoctor %s\ncommit:      %s%s\ncommit time: %s\ngo:          %s\nplatform:    %s\n",
				b.Version, b.Commit, modified, b.CommitTime, b.GoVersion, b.Platform)
			return nil
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
