// Package lab runs local Linux "VMs" with real OpenSSH behind a cloud-like
// control plane, for demos and end-to-end tests. A VM is a network namespace
// plus mount, PID and UTS namespaces: its own hostname, an overlay over the
// host's /etc (so useradd inside it never touches the host), its own /home,
// /root, /run, /var/log and temporary disk, and a small init (`sshdoctor lab
// vm-init`) that boots, supervises sshd and writes the serial log. A client
// namespace stands for the user's laptop; a router namespace joins it to the
// VM subnet and enforces the subnet NSG with nftables; each VM enforces its
// NIC NSG. Nothing touches the host's own interfaces, firewall or /etc.
package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Addressing. Documentation ranges only (RFC 5737): nothing here can collide
// with a real network, and none of it exists outside the lab's namespaces.
const (
	VNetCIDR       = "198.51.100.0/24" // the VM subnet (the "virtual network")
	routerVMIP     = "198.51.100.1"
	firstVMHost    = 10               // VMs get 198.51.100.10, .11, …
	clientCIDR     = "203.0.113.0/24" // the "internet" between laptop and router
	ClientIP       = "203.0.113.10"
	routerClientIP = "203.0.113.1"
	// DefaultUser is the admin account the lab provisions, as Azure images do.
	DefaultUser = "azureuser"
)

// DefaultDir holds lab state unless SSHDOCTOR_LAB_DIR says otherwise.
const DefaultDir = "/var/lib/sshdoctor/lab"

// ErrNoLab is returned when no lab is up.
var ErrNoLab = errors.New("no lab is up (run `sshdoctor lab up`)")

// ErrNotRoot is returned when the lab is used without root.
var ErrNotRoot = errors.New("the lab needs root on Linux (network, mount and PID namespaces, nftables): run it with sudo")

// State is the lab's persistent state (state.json in the lab directory).
type State struct {
	Dir       string     `json:"-"`
	Prefix    string     `json:"prefix"` // namespace name prefix
	VMs       []*VMState `json:"vms"`
	SubnetNSG *cloud.NSG `json:"subnet_nsg,omitempty"`
	// Routes are user-defined routes on the VM subnet.
	Routes []cloud.Route `json:"routes,omitempty"`
	// Password is the default user's password (for password-auth faults).
	Password string `json:"password"`
	// Self is the sshdoctor binary VMs run as their init.
	Self string `json:"self"`
	// Creating is set while `lab up` builds the lab: a state that still
	// has it is a partial lab: `lab up` refuses to start over it and
	// `lab down` removes it.
	Creating bool `json:"creating,omitempty"`
}

// VMState is one VM's record.
type VMState struct {
	Name       string           `json:"name"`
	Index      int              `json:"index"` // host part of the address minus firstVMHost; changes on redeploy
	Power      cloud.PowerState `json:"power"`
	NSG        *cloud.NSG       `json:"nsg,omitempty"`
	UnsharePID int              `json:"unshare_pid,omitempty"`
	InitPID    int              `json:"init_pid,omitempty"`
	Faults     []string         `json:"faults,omitempty"`
	Undo       *undo            `json:"undo,omitempty"`
	Boots      int              `json:"boots"`
}

// IP is the VM's private address.
func (v *VMState) IP() string { return "198.51.100." + strconv.Itoa(firstVMHost+v.Index) }

// Dir returns the directory of lab state, from SSHDOCTOR_LAB_DIR or the default.
func Dir() string {
	if d := os.Getenv("SSHDOCTOR_LAB_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

// CheckRoot returns ErrNotRoot unless running as root.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	return nil
}

// Load reads the lab state from dir.
func Load(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoLab
	}
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	s := &State{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("lab state %s is corrupt: %w", filepath.Join(dir, "state.json"), err)
	}
	s.Dir = dir
	return s, nil
}

// Save writes the state atomically.
func (s *State) Save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, "state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(s.Dir, "state.json"))
}

// VM returns the named VM.
func (s *State) VM(name string) (*VMState, error) {
	for _, v := range s.VMs {
		if v.Name == name {
			return v, nil
		}
	}
	var names []string
	for _, v := range s.VMs {
		names = append(names, v.Name)
	}
	return nil, fmt.Errorf("no VM %q in the lab (VMs: %v)", name, names)
}

// Lock takes the lab's exclusive lock so two commands never change it at
// once; the returned function releases it.
func Lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock lab: %w", err)
	}
	return func() { f.Close() }, nil
}

// Paths inside the lab directory.
func (s *State) vmDir(name string) string { return filepath.Join(s.Dir, "vms", name) }
func (s *State) clientDir() string        { return filepath.Join(s.Dir, "client") }

// ClientConfig is the ssh_config the client namespace uses.
func (s *State) ClientConfig() string { return filepath.Join(s.clientDir(), "ssh_config") }

// ClientKey is the lab user's private key.
func (s *State) ClientKey() string { return filepath.Join(s.clientDir(), "id_ed25519") }

func (s *State) nsClient() string                   { return s.Prefix + "-client" }
func (s *State) nsRouter() string                   { return s.Prefix + "-router" }
func (s *State) nsVM(v *VMState) string             { return s.Prefix + "-vm-" + v.Name }
func (s *State) hasFault(v *VMState, f string) bool { return slices.Contains(v.Faults, f) }
