package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// Bounds on what the guest commands read from files named on the command
// line. They run as root: a FIFO nobody writes to, /dev/zero or a huge
// file must end in a one-line error, not a hang or a full memory.
const (
	// maxKeyInput bounds a --ssh-key-file: a few hundred keys fit in it.
	maxKeyInput = 1 << 20
	// maxSettings bounds a VMAccess settings file (a few hundred bytes;
	// the largest value is one public key).
	maxSettings = 64 << 10
	// inputTimeout bounds reading one input: a file on a hung network
	// mount or a standard input nobody writes to must not hang a root
	// command; local files and pipes finish in milliseconds.
	inputTimeout = 5 * time.Second
)

// readInput reads at most limit bytes from the regular file name, or from
// stdin when name is "-" and stdin is not nil. The file is opened with
// O_NONBLOCK (a FIFO would block the open itself) and checked on the
// descriptor, so FIFOs, devices and directories are refused before any
// read. More than limit bytes, or no end within inputTimeout, is an error;
// errors are one line naming flag and name.
func readInput(flag, name string, stdin io.Reader, limit int64) ([]byte, error) {
	what := flag + " " + name
	r := stdin
	if name != "-" || stdin == nil {
		f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, bare(err))
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, bare(err))
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file (%s)", what, kind(st.Mode()))
		}
		if st.Size() > limit {
			return nil, fmt.Errorf("%s: larger than %d bytes", what, limit)
		}
		r = f
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		done <- result{data, err}
	}()
	timer := time.NewTimer(inputTimeout)
	defer timer.Stop()
	select {
	case res := <-done:
		switch {
		case res.err != nil:
			clear(res.data)
			return nil, fmt.Errorf("%s: %v", what, bare(res.err))
		case int64(len(res.data)) > limit:
			clear(res.data)
			return nil, fmt.Errorf("%s: larger than %d bytes", what, limit)
		}
		return res.data, nil
	case <-timer.C:
		return nil, fmt.Errorf("%s: not read within %s", what, inputTimeout)
	}
}

// bare drops the path an *fs.PathError repeats.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// kind names a non-regular file type for an error message.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}
