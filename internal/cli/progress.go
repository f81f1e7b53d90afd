package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress shows, on a terminal, the layer the check waits on and for how
// long: a filtered port is a wait, not a hang.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	layer string
	since time.Time
	done  chan struct{}
	wg    sync.WaitGroup
}

func startProgress(w io.Writer) *progress {
	p := &progress{w: w, since: time.Now(), done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-p.done:
				if shown {
					fmt.Fprint(p.w, "\r\033[K")
				}
				return
			case <-t.C:
				p.mu.Lock()
				layer, since := p.layer, p.since
				p.mu.Unlock()
				// Quick checks finish before anything is shown.
				if layer != "" && time.Since(since) > 500*time.Millisecond {
					fmt.Fprintf(p.w, "\r\033[K… %s (%.1fs)", layer, time.Since(since).Seconds())
					shown = true
				}
			}
		}
	}()
	return p
}

func (p *progress) set(layer, detail string) {
	p.mu.Lock()
	p.layer, p.since = layer+": "+detail, time.Now()
	p.mu.Unlock()
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}
