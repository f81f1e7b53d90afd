// Command sshdoctor-man writes sshdoctor's man pages into a directory:
// `go run ./cmd/sshdoctor-man DIR` (make man, make install).
package main

import (
	"fmt"
	"os"

	"github.com/sshdoctor/sshdoctor/internal/cli"
	"github.com/sshdoctor/sshdoctor/internal/manpages"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sshdoctor-man DIR")
		os.Exit(2)
	}
	if err := manpages.Write(cli.NewRootCmd(cli.System()), os.Args[1], cli.Version); err != nil {
		fmt.Fprintln(os.Stderr, "sshdoctor-man:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "man pages written to %s\n", os.Args[1])
}
