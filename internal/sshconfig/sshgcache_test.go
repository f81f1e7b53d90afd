package sshconfig

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSSHGCache drives the real ssh through a wrapper that counts its
// runs: a repeated query is answered from the cache, and every change
// that can change ssh -G's answer runs ssh again.
func TestSSHGCache(t *testing.T) {
	real := sshBinary(t)
	home := fakeHome(t)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("SSHDOCTOR_CACHE", "")
	count := filepath.Join(home, "runs")
	wrapper := filepath.Join(home, "ssh")
	write(t, wrapper, "#!/bin/sh\necho run >> "+count+"\nexec "+real+" \"$@\"\n")
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	runs := func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "run")
	}
	confd := filepath.Join(home, "conf.d")
	if err := os.Mkdir(confd, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, "config")
	write(t, cfg, "Include "+confd+"/*.conf\nHost a\n  HostName 10.0.0.1\n")
	q := Query{Host: "a", ConfigFile: cfg, SSHPath: wrapper}

	step := func(name string, wantRuns int, wantCached bool, check func(*Settings) bool) {
		t.Helper()
		s, err := Resolve(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if runs() != wantRuns || s.Cached != wantCached || !check(s) {
			t.Fatalf("%s: ssh ran %d times (want %d), cached %v (want %v), settings %+v", name, runs(), wantRuns, s.Cached, wantCached, s)
		}
	}
	host := func(h string) func(*Settings) bool { return func(s *Settings) bool { return s.HostName == h } }

	step("first query", 1, false, host("10.0.0.1"))
	step("same query", 1, true, host("10.0.0.1"))
	// Same size, same second: only the content differs.
	write(t, cfg, "Include "+confd+"/*.conf\nHost a\n  HostName 10.0.0.2\n")
	step("config edited in place", 2, false, host("10.0.0.2"))
	step("again", 2, true, host("10.0.0.2"))
	write(t, filepath.Join(confd, "x.conf"), "Host a\n  Port 2222\n")
	step("an Include glob gains a file", 3, false, func(s *Settings) bool { return s.Port == 2222 })
	write(t, filepath.Join(confd, "x.conf"), "Host a\n  Port 2223\n")
	step("an included file edited", 4, false, func(s *Settings) bool { return s.Port == 2223 })
	step("again", 4, true, func(s *Settings) bool { return s.Port == 2223 })
	q.Options = []string{"User=bob"}
	step("other options", 5, false, func(s *Settings) bool { return s.User == "bob" })
	t.Setenv("SOME_VAR", "x")
	step("other environment", 6, false, func(s *Settings) bool { return s.User == "bob" })
	step("again", 6, true, func(s *Settings) bool { return s.User == "bob" })

	t.Setenv("SSHDOCTOR_CACHE", "off")
	step("cache off", 7, false, host("10.0.0.2"))
	t.Setenv("SSHDOCTOR_CACHE", "")
	step("cache on again", 7, true, host("10.0.0.2"))

	// A directory others may write to is not trusted.
	dir := cacheDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	step("group/world-writable cache dir", 8, false, host("10.0.0.2"))
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	step("safe again", 8, true, host("10.0.0.2"))

	// A directory above it that someone else owns could be swapped for a
	// link between the check and the write: no cache.
	// (chown needs root: CI runs as root, where this must not be skipped.)
	extra := 0
	if os.Geteuid() == 0 {
		parent := filepath.Join(home, "cache")
		if err := os.Chown(parent, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		step("a parent owned by another user", 9, false, host("10.0.0.2"))
		if err := os.Chown(parent, 0, 0); err != nil {
			t.Fatal(err)
		}
		step("a parent owned by root again", 9, true, host("10.0.0.2"))
		extra = 1
	} else if os.Getenv("CI") == "true" {
		t.Fatal("under CI this test runs as root")
	}

	// An entry replaced by a link (to a forged answer) is not followed.
	ents, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	forged := filepath.Join(home, "forged.json")
	for _, e := range ents {
		b, _ := os.ReadFile(e)
		write(t, forged, strings.ReplaceAll(string(b), "10.0.0.2", "10.6.6.6"))
		if err := os.Remove(e); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(forged, e); err != nil {
			t.Fatal(err)
		}
	}
	step("entries are symlinks", 9+extra, false, host("10.0.0.2"))

	// Match exec runs a command: never cached.
	write(t, cfg, "Match exec true\n  HostName 10.9.9.9\n")
	step("Match exec", 10+extra, false, host("10.9.9.9"))
	step("Match exec again", 11+extra, false, host("10.9.9.9"))
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A cache base that is a link (or under one) is never written through:
// MkdirAll would follow it.
func TestSSHGCacheRefusesLinkedBase(t *testing.T) {
	real := sshBinary(t)
	home := fakeHome(t)
	target := filepath.Join(home, "elsewhere")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(home, "cachelink")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(link, "sub"))
	t.Setenv("SSHDOCTOR_CACHE", "")
	for range 2 {
		s, err := Resolve(context.Background(), Query{Host: "h", ConfigFile: "none", SSHPath: real})
		if err != nil || s.Cached {
			t.Fatalf("cached %v err %v", s != nil && s.Cached, err)
		}
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("the cache wrote through the link: %v", ents)
	}
}
