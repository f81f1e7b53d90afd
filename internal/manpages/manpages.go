// Package manpages writes sshdoctor's man pages from its command tree. It
// is apart from the CLI so that the sshdoctor binary does not carry the
// man-page renderer (it costs start-up time on every run).
package manpages

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Write writes one page per visible command (sshdoctor.1,
// sshdoctor-check.1, …) into dir.
func Write(root *cobra.Command, dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The pages document the commands, not cobra's generator.
	root.DisableAutoGenTag = true
	// Cobra adds --version when it runs the root; here nothing runs it.
	root.InitDefaultVersionFlag()
	header := &doc.GenManHeader{Section: "1", Source: "sshdoctor " + version, Manual: "sshdoctor manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("write man pages: %w", err)
	}
	return nil
}
