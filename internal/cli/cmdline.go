package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// printedCommand finds the sshdoctor command lines a text shows in
// backquotes: what a user would copy and paste.
var printedCommand = regexp.MustCompile("`((?:sudo )?sshdoctor [^`]+)`")

// PrintedCommands returns the sshdoctor command lines in text.
func PrintedCommands(text string) []string {
	var out []string
	for _, m := range printedCommand.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// ValidateCommandLine says whether sshdoctor would accept line as typed
// into a POSIX shell: the command exists, its flags parse and its
// arguments fit. Nothing runs. A `lab exec VM -- sshdoctor …` or `lab
// client -- sshdoctor …` line is checked inside too. Placeholders such as
// <vm-name> are values like any other: they parse.
func ValidateCommandLine(line string) error {
	words, err := shellWords(line)
	if err != nil {
		return err
	}
	return validateWords(words)
}

func validateWords(words []string) error {
	if len(words) > 0 && words[0] == "sudo" {
		words = words[1:]
	}
	if len(words) == 0 || words[0] != "sshdoctor" {
		return fmt.Errorf("not an sshdoctor command: %q", strings.Join(words, " "))
	}
	ios := &IOStreams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}
	root := NewRootCmd(ios)
	cmd, rest, err := root.Find(words[1:])
	if err != nil {
		return err
	}
	if cmd == root || cmd.HasSubCommands() {
		return fmt.Errorf("%q names no command", strings.Join(words, " "))
	}
	// Flags are parsed as cobra does (Find strips only the command path).
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	args := cmd.Flags().Args()
	if err := cmd.ValidateArgs(args); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	// A command run inside a lab VM or the lab's client namespace.
	if i := cmd.ArgsLenAtDash(); i >= 0 && i < len(args) && args[i] == "sshdoctor" && isParent(cmd, "lab") {
		return validateWords(args[i:])
	}
	return nil
}

func isParent(c *cobra.Command, name string) bool {
	return c.Parent() != nil && c.Parent().Name() == name
}

// shellWords splits a POSIX shell command line: blanks separate words,
// single quotes keep everything, double quotes keep all but \ " $ `, a
// backslash escapes. Expansions ($, `, globs) are refused: a printed
// command must not depend on them.
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				} else if s[i] == '$' || s[i] == '`' {
					return nil, fmt.Errorf("%q expands %c", s, s[i])
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated "`)
			}
			in = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case strings.IndexByte("$`|&;()", c) >= 0:
			return nil, fmt.Errorf("%q: %c is shell syntax, not part of one command", s, c)
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}
