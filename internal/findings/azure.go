package findings

// LayerCloud is the control-plane vantage point (`sshdoctor azure check`):
// what the cloud knows about the VM and the network path to it.
const LayerCloud Layer = "cloud"

// Control-plane findings: what `sshdoctor azure check` sees through Azure
// Resource Manager. See docs/azure.md for how each is gathered.
func init() {
	Register(
		Def{"cloud.vm_deallocated", LayerCloud, Error, "The VM is stopped and deallocated: nothing runs, and a dynamic public IP was released.",
			"Start it: `sshdoctor azure start -g RG -n VM` (or `az vm start`). A dynamic public IP may come back different: check the address you connect to."},
		Def{"cloud.vm_stopped", LayerCloud, Error, "The VM is stopped (the OS was shut down) but still allocated and billed.",
			"Start it: `sshdoctor azure start -g RG -n VM` (or `az vm start`)."},
		Def{"cloud.vm_transitioning", LayerCloud, Warning, "The VM is starting, stopping or in an unknown power state.",
			"Wait a minute and run the check again; if it stays so, restart the VM (`sshdoctor azure restart -g RG -n VM`)."},
		Def{"cloud.provisioning_failed", LayerCloud, Error, "The VM's last provisioning operation failed: the platform could not bring it to its declared state.",
			"Read the error in the evidence; `az vm reapply -g RG -n VM` retries it, `sshdoctor azure redeploy -g RG -n VM --yes` moves the VM to a new host."},
		Def{"cloud.agent_not_ready", LayerCloud, Warning, "The VM agent (waagent) does not report Ready: run-command and VMAccess (reset-ssh, reset-user) cannot work.",
			"Restart the VM (`sshdoctor azure restart -g RG -n VM`); if the agent stays down, look at the serial log and `systemctl status walinuxagent` (waagent on RHEL) from the serial console."},
		Def{"cloud.health_unavailable", LayerCloud, Error, "Azure Resource Health reports the VM Unavailable.",
			"Read the reason in the evidence; a platform event usually resolves by itself, otherwise restart or redeploy the VM (`sshdoctor azure redeploy -g RG -n VM --yes`)."},
		Def{"cloud.health_degraded", LayerCloud, Warning, "Azure Resource Health reports the VM Degraded.",
			"Read the reason in the evidence; if SSH is slow or fails, redeploy the VM to another host (`sshdoctor azure redeploy -g RG -n VM --yes`)."},
		Def{"cloud.boot_diagnostics_disabled", LayerCloud, Warning, "Boot diagnostics are off: there is no serial log to show why the guest does not boot.",
			"Enable them with managed storage: `az vm boot-diagnostics enable -g RG -n VM`; the log fills from the next boot on."},
		Def{"cloud.serial_log_unavailable", LayerCloud, Warning, "Boot diagnostics are on, but the serial log could not be fetched.",
			"Read the error in the evidence; the log exists only once the VM has booted with boot diagnostics on: restart it, or use the portal's serial console."},
		Def{"cloud.no_public_ip", LayerCloud, Warning, "The VM has no public IP address: it is reachable only from its virtual network, peered networks, a VPN or Bastion.",
			"Connect from inside the network (VPN, peering, `az network bastion ssh`), or attach a public IP: `az network public-ip create` then `az network nic ip-config update --public-ip-address`."},
		Def{"cloud.nsg_denies", LayerCloud, Error, "A network security group drops the SSH connection before it reaches the VM.",
			"Add the allow rule shown in the remediation (`sshdoctor azure nsg allow-ssh -g RG -n VM --source-ip YOUR_IP`), at a priority that beats the deciding deny rule."},
		Def{"cloud.standard_ip_closed", LayerCloud, Error, "No NSG applies to the VM, and its Standard SKU public IP (or load balancer) admits no inbound connection until an NSG allows it.",
			"Create an NSG with an allow rule for your address and the SSH port, and attach it to the NIC (`az network nsg create`, `az network nsg rule create`, `az network nic update --network-security-group`)."},
		Def{"cloud.nsg_uncertain", LayerCloud, Warning, "A rule sshdoctor cannot evaluate (a service tag only Azure expands, an AVNM admin rule, a protocol it does not know) comes before the NSGs' decision, so the verdict could be either.",
			"Check that rule in the portal or with Network Watcher's IP flow verify; run the check again while the VM runs, when Azure's effective rules list the tag's addresses."},
		Def{"cloud.nsg_source_restricted", LayerCloud, Warning, "The NSGs allow SSH only from specific source addresses; an arbitrary Internet address is denied.",
			"Connect from one of the allowed addresses in the evidence, or run again with `--source-ip YOUR_PUBLIC_IP` to check yours."},
		Def{"cloud.route_none", LayerCloud, Error, "The VM's effective routes drop the replies to the client (next hop None, or no route at all).",
			"Remove or change the user-defined route named in the evidence (`az network route-table route delete|update`), or add a more specific route to the client with next hop Internet."},
		Def{"cloud.route_appliance", LayerCloud, Warning, "Replies to the client go through a virtual appliance (user-defined route): unless the appliance forwards them symmetrically, the connection stalls.",
			"Check that the appliance at the next hop is up and forwards this traffic, or add a more specific route to the client with next hop Internet (`az network route-table route create --next-hop-type Internet`)."},
		Def{"cloud.watcher_disagrees", LayerCloud, Warning, "Network Watcher (IP flow verify, next hop) answers differently from sshdoctor's evaluation of the effective rules and routes.",
			"Trust Network Watcher's answer for the rule or route it names (it also sees rules the effective view leaves out, e.g. security admin rules), and report the difference: https://github.com/sshdoctor/sshdoctor/issues."},
		Def{"cloud.access_denied", LayerCloud, Error, "Azure refused a call: the signed-in identity lacks a permission sshdoctor needs.",
			"Grant the permission named in the evidence on the VM's resource group (the Reader role covers reads, Virtual Machine Contributor the actions), or sign in as another identity (`az login`)."},
		Def{"cloud.not_found", LayerCloud, Error, "A resource sshdoctor looked up does not exist (wrong name, resource group or subscription).",
			"Check the names in the evidence: `az vm list -g RG -o table`, `az account show` for the subscription."},
		Def{"cloud.api_error", LayerCloud, Warning, "An Azure call failed for another reason, so part of the check is missing.",
			"Read the error in the evidence and run the check again; the other results still stand."},
		Def{"cloud.ok", LayerCloud, Info, "The control plane shows nothing that stops SSH: the VM runs, the NSGs allow the flow and the return route is direct.",
			"Look further along the path: `sshdoctor check user@host` from the client, and `sshdoctor guest check` on the VM (through `az vm run-command` or the serial console)."},
	)
}
