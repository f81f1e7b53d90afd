package diagnose

import (
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// Any guest command a catalogue remedy names is completed for the client
// and where it ran, not only the bare ones.
func TestContextualize(t *testing.T) {
	r := &probe.Report{Target: probe.Target{User: "alice", Port: 2222}}
	plain := &judge{r: r}
	lab := &judge{r: r, o: Options{Commands: Commands{LabVM: "web1"}}}
	for _, c := range []struct {
		j        *judge
		in, want string
	}{
		{plain, "run `sshdoctor guest check` now", "`sudo sshdoctor guest check --user alice --port 2222`"},
		{plain, "`sshdoctor guest check --user USER` names it", "`sudo sshdoctor guest check --user alice`"},
		{lab, "`sshdoctor guest check --user USER` names it", "`sshdoctor lab exec web1 -- sshdoctor guest check --user alice`"},
		{lab, "`sshdoctor guest reset-ssh --yes`", "`sshdoctor lab exec web1 -- sshdoctor guest reset-ssh --yes`"},
		{lab, "`sshdoctor guest repair`", "`sshdoctor lab exec web1 -- sshdoctor guest repair --user alice --port 2222 --yes`"},
		{lab, "`sshdoctor azure check -g RG -n VM`", "`sshdoctor lab check web1 --port 2222`"},
		{plain, "`sshdoctor check USER@HOST`", "`sshdoctor check USER@HOST`"},
	} {
		if got := c.j.contextualize(c.in); !strings.Contains(got, c.want) {
			t.Errorf("%q → %q, want %q in it", c.in, got, c.want)
		}
	}
}
