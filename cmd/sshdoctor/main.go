// Command sshdoctor finds why SSH to a Linux VM fails, fixes it safely and
// proves it works. See README.md.
package main

import (
	"os"

	"github.com/sshdoctor/sshdoctor/internal/cli"
)

func main() {
	os.Exit(cli.Main(cli.System(), os.Args[1:]))
}
