package cli

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// ExitInterrupted is the exit status after Ctrl-C or SIGTERM: 128 + SIGINT,
// as shells report a command the signal ended.
const ExitInterrupted = 130

// holdInterrupts catches SIGINT and SIGTERM while a step that must not stop
// halfway (a lab fault injected or healed) runs: the first signal prints
// that the step is being finished, and interrupted reports whether one
// came, so the command can exit ExitInterrupted once the step is done.
// Programs the step runs are in their own process group (the lab's
// ownGroup), so the terminal's Ctrl-C does not reach them either.
func holdInterrupts(ios *IOStreams, step string) (interrupted func() bool, release func()) {
	var got atomic.Bool
	ch := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for {
			select {
			case <-ch:
				if !got.Swap(true) {
					fmt.Fprintf(ios.Err, "interrupted: finishing the current step (%s)…\n", step)
				}
			case <-done:
				return
			}
		}
	}()
	return got.Load, func() {
		signal.Stop(ch)
		close(done)
	}
}
