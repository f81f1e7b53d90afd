package guest

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// ErrInterrupted ends a transaction that Ctrl-C (SIGINT) or SIGTERM
// stopped before it was complete; Apply rolled every change back.
var ErrInterrupted = errors.New("interrupted before the changes were complete")

// holdInterrupts catches SIGINT and SIGTERM while a transaction runs, so
// that sshdoctor is never killed between a change and its validation or
// rollback; stopped reports whether one came (or ctx ended), for Apply to
// check between steps. A program a step runs is in the terminal's process
// group and gets Ctrl-C too: the step then fails, and Apply rolls back.
func holdInterrupts(ctx context.Context) (stopped func() bool, release func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	// The first signal stays in the buffer: len(ch) tells that one came.
	return func() bool { return len(ch) > 0 || ctx.Err() != nil }, func() { signal.Stop(ch) }
}
