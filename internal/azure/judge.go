package azure

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// explain judges a call ARM refused: 403 and 404 name the permission or
// the resource; other ARM errors are cloud.api_error. Errors ARM did not
// answer are left to the neutral judgement.
func explain(pr cloudcheck.Problem) (findings.Finding, bool) {
	var e *Error
	if !errors.As(pr.Err, &e) || e.Status == 0 {
		return findings.Finding{}, false
	}
	evidence := []string{strings.TrimSpace(fmt.Sprintf("Azure: %s (HTTP %d) %s", e.Code, e.Status, e.Message))}
	switch {
	case e.Forbidden():
		scope := scopeOf(e.Resource)
		return findings.New("cloud.access_denied",
			fmt.Sprintf("Azure refused to %s: the signed-in identity lacks %s", e.Op, e.Action),
			fmt.Sprintf("Grant %s on %s, e.g. `az role assignment create --assignee YOUR_ID --role %q --scope %s`, or sign in as an identity that has it (`az login`).",
				e.Action, scope, roleFor(e.Action), scope),
			append([]string{"permission needed: " + e.Action, "resource: " + e.Resource}, evidence...)...), true
	case e.NotFound():
		return findings.New("cloud.not_found", describeMissing(e), "",
			append([]string{"while trying to " + e.Op, "resource: " + e.Resource}, evidence...)...), true
	}
	return findings.New("cloud.api_error", fmt.Sprintf("Azure failed to %s: %s (HTTP %d)", e.Op, e.Code, e.Status), "", evidence...), true
}

// scopeOf is the resource group scope of a resource ID, where a role
// assignment for sshdoctor's needs belongs.
func scopeOf(id string) string {
	rid, err := arm.ParseResourceID(id)
	if err != nil || rid.SubscriptionID == "" || rid.ResourceGroupName == "" {
		return id
	}
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", rid.SubscriptionID, rid.ResourceGroupName)
}

func describeMissing(e *Error) string {
	rid, err := arm.ParseResourceID(e.Resource)
	if err != nil {
		return "Not found: " + e.Resource
	}
	if strings.EqualFold(e.Code, "ResourceGroupNotFound") {
		return fmt.Sprintf("Resource group %s does not exist in subscription %s", rid.ResourceGroupName, rid.SubscriptionID)
	}
	if strings.EqualFold(e.Code, "SubscriptionNotFound") {
		return fmt.Sprintf("Subscription %s does not exist or is not visible to you", rid.SubscriptionID)
	}
	kind := rid.ResourceType.Types[len(rid.ResourceType.Types)-1]
	if k, ok := kinds[kind]; ok {
		kind = k
	}
	return fmt.Sprintf("%s %s does not exist in resource group %s (subscription %s)", kind, rid.Name, rid.ResourceGroupName, rid.SubscriptionID)
}

// kinds names resource types for people.
var kinds = map[string]string{
	"virtualMachines": "VM", "networkInterfaces": "Network interface", "publicIPAddresses": "Public IP",
	"networkSecurityGroups": "Network security group", "subnets": "Subnet", "virtualNetworks": "Virtual network",
}

// roleFor names the built-in role that carries action.
func roleFor(action string) string {
	switch {
	case strings.HasSuffix(action, "/read"):
		return "Reader"
	case strings.HasPrefix(action, "Microsoft.Network/"):
		return "Network Contributor"
	}
	return "Virtual Machine Contributor"
}

// RuleCreateCommand is the `az network nsg rule create` command that adds
// the suggested rule; rg is used when the NSG's ID names no resource group.
func RuleCreateCommand(s cloudcheck.Suggestion, rg string) string {
	return netpolicy.AzRuleCreate(groupOf(s.NSGID, rg), s.NSG, s.Rule)
}
