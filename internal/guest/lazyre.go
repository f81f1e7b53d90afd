package guest

import (
	"regexp"
	"sync"
)

// lazyRE compiles a pattern on first use, not at start-up: every command
// pays for package initialisation, few use these patterns.
func lazyRE(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
