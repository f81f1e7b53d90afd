package diagnose

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// Commands is where check ran, for the sshdoctor commands remediations
// print: each is complete and runnable there — the user and the key the
// client offered are in it, in the lab it is the lab's command, and what
// the client cannot know is a visible placeholder (RESOURCE_GROUP).
type Commands struct {
	// LabVM is the lab VM the target is, when check runs in the lab's
	// client namespace ("" otherwise).
	LabVM string
}

// onVM words cmd (an sshdoctor command line) to run as root on the VM:
// through the lab, or with sudo there.
func (j *judge) onVM(cmd string) string {
	if vm := j.o.Commands.LabVM; vm != "" {
		return "`sshdoctor lab exec " + vm + " -- " + cmd + "`"
	}
	return "`sudo " + cmd + "`"
}

// guestCommand is a guest command a remedy names, bare or with flags.
var guestCommand = regexp.MustCompile("`sshdoctor guest ([a-z-]+)((?: [^`]*)?)`")

// contextualize completes the sshdoctor commands a catalogue remedy names
// in general for this client and where it ran: a bare `sshdoctor guest
// check|repair` gets the client's user, port (and key); any guest command
// gets the user for the USER placeholder and runs on the VM (through the
// lab, or with sudo); `sshdoctor azure check -g RG -n VM` becomes the
// control plane's check.
func (j *judge) contextualize(text string) string {
	text = strings.ReplaceAll(text, "`sshdoctor azure check -g RG -n VM`", j.cloudCheck())
	return guestCommand.ReplaceAllStringFunc(text, func(m string) string {
		sub := guestCommand.FindStringSubmatch(m)
		verb, flags := sub[1], sub[2]
		switch {
		case verb == "check" && flags == "":
			return j.guestCheck()
		case verb == "repair" && flags == "":
			return j.guestRepair(false)
		}
		flags = strings.ReplaceAll(flags, " USER", " "+shellQuote(j.r.Target.User))
		return j.onVM("sshdoctor guest " + verb + flags)
	})
}

// guestFlags are the flags that tell guest about this client: the user,
// and sshd's port when not 22.
func (j *judge) guestFlags() string {
	s := "--user " + shellQuote(j.r.Target.User)
	if p := j.r.Target.Port; p != 0 && p != 22 {
		s += fmt.Sprintf(" --port %d", p)
	}
	return s
}

// guestCheck is `sshdoctor guest check` for this client's user.
func (j *judge) guestCheck() string {
	return j.onVM("sshdoctor guest check " + j.guestFlags())
}

// guestRepair is `sshdoctor guest repair --yes` for this client's user;
// withKey adds the public key the client offered first, so that the
// repair authorizes it.
func (j *judge) guestRepair(withKey bool) string {
	cmd := "sshdoctor guest repair " + j.guestFlags()
	if k := j.offeredKey(); withKey && k != "" {
		cmd += " --ssh-key " + shellQuote(k)
	}
	return j.onVM(cmd + " --yes")
}

// cloudCheck is the control plane's check of the VM.
func (j *judge) cloudCheck() string {
	port := ""
	if p := j.r.Target.Port; p != 0 && p != 22 {
		port = fmt.Sprintf(" --port %d", p)
	}
	if vm := j.o.Commands.LabVM; vm != "" {
		return "`sshdoctor lab check " + vm + port + "`"
	}
	return "`sshdoctor azure check -g RESOURCE_GROUP -n VM_NAME" + port + "`"
}

// offeredKey is the public key of the first identity offered (or usable),
// as an authorized_keys line without a comment.
func (j *judge) offeredKey() string {
	var fallback string
	for _, id := range j.r.Identities {
		if id.PublicKey == "" {
			continue
		}
		if id.Result != "" && id.Result != probe.KeyNotTried {
			return id.PublicKey
		}
		if fallback == "" && id.Problem == "" {
			fallback = id.PublicKey
		}
	}
	return fallback
}

// shellQuote quotes s for a POSIX shell unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@+=%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
