package guest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// UnitState is a systemd unit's state as `systemctl show` reports it.
type UnitState struct {
	Unit        string `json:"unit"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
	Result      string `json:"result"`
	NRestarts   int    `json:"restarts"`
	ActiveEnter string `json:"active_enter,omitempty"`
}

// clockTicks is USER_HZ, 100 on every Linux architecture sshd runs on.
const clockTicks = 100

// processStart returns when pid started: /proc/PID/stat field 22
// (starttime, clock ticks after boot) plus /proc/stat's btime. procRoot
// is "/proc" (a test's own directory otherwise).
func processStart(procRoot string, pid int) (time.Time, error) {
	data, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", procRoot, pid))
	if err != nil {
		return time.Time{}, err
	}
	// comm (field 2) may contain spaces and parentheses: fields after the
	// last ')' start at field 3.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return time.Time{}, fmt.Errorf("%s/%d/stat: no comm", procRoot, pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return time.Time{}, fmt.Errorf("%s/%d/stat: %d fields", procRoot, pid, len(f)+2)
	}
	ticks, err := strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	stat, err := os.ReadFile(procRoot + "/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, l := range strings.Split(string(stat), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, err
			}
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / clockTicks), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s/stat: no btime", procRoot)
}

// sshdUnits asks systemd about ssh.service and sshd.service (one of them
// is usually an alias of the other, or not found).
func sshdUnits(ctx context.Context) []UnitState {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemctl", "show", "ssh.service", "sshd.service",
		"-p", "Id,LoadState,ActiveState,SubState,NRestarts,Result,ActiveEnterTimestamp").Output()
	if err != nil {
		return nil
	}
	return parseSystemctlShow(string(out))
}

// parseSystemctlShow reads `systemctl show` output: one KEY=VALUE block per
// unit, blocks separated by an empty line; units not found are dropped and
// aliases counted once.
func parseSystemctlShow(out string) []UnitState {
	var units []UnitState
	seen := map[string]bool{}
	for _, block := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n\n") {
		kv := map[string]string{}
		for _, l := range strings.Split(block, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				kv[k] = v
			}
		}
		if kv["Id"] == "" || kv["LoadState"] == "not-found" || seen[kv["Id"]] {
			continue
		}
		seen[kv["Id"]] = true
		n, _ := strconv.Atoi(kv["NRestarts"])
		units = append(units, UnitState{Unit: kv["Id"], ActiveState: kv["ActiveState"], SubState: kv["SubState"], Result: kv["Result"], NRestarts: n, ActiveEnter: kv["ActiveEnterTimestamp"]})
	}
	return units
}

// crashLoopRestarts: this many automatic restarts make a crash loop.
const crashLoopRestarts = 3
