package azure

import (
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"
)

// The test world lives in azurefake (shared with the CLI's tests); these
// names keep the package's tests short.
const (
	sub      = azurefake.Sub
	rg       = azurefake.RG
	vmName   = azurefake.VMName
	vmID     = azurefake.VMID
	rgID     = azurefake.RGID
	nicID    = azurefake.NICID
	subnetID = azurefake.SubnetID
	snsgID   = azurefake.SubnetNSGID
	nnsgID   = azurefake.NICNSGID
	blobHost = azurefake.BlobHost
	sasURI   = azurefake.SASURI
)

type scenario = azurefake.Scenario

var (
	effNSG           = azurefake.EffNSG
	routesJSON       = azurefake.RoutesJSON
	subnetDenyEffNSG = azurefake.SubnetDenyEffNSG
	allowSSHAnywhere = azurefake.AllowSSHAnywhere
	vmJSON           = azurefake.VMJSON
)

func must[T any](t testing.TB, js string) T { return azurefake.Must[T](t, js) }

func ptr[T any](v T) *T { return &v }

// newWorld is the world for s and a Provider over it that polls fast.
func newWorld(t *testing.T, s scenario) (*Provider, *azurefake.World) {
	t.Helper()
	w := azurefake.NewWorld(t, s)
	p, err := New(sub, rg, azurefake.Credential(), w.Options())
	if err != nil {
		t.Fatal(err)
	}
	p.PollFrequency = time.Millisecond
	return p, w
}
