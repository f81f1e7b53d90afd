package netpolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Shape is the kind of document ParseNSG found.
type Shape string

// Shapes ParseNSG reads.
const (
	// ShapeARM is an NSG as Azure Resource Manager returns it (REST API,
	// az resource show, the portal's JSON view): rule fields nested under
	// properties.securityRules[].properties.
	ShapeARM Shape = "arm"
	// ShapeAZ is `az network nsg show` output (also PowerShell's
	// Get-AzNetworkSecurityGroup | ConvertTo-Json): the same fields
	// flattened, securityRules[] with the rule fields at the top level.
	ShapeAZ Shape = "az"
	// ShapeRuleList is a bare list of rules: `az network nsg rule list`,
	// or an ARM securityRules array.
	ShapeRuleList Shape = "rule-list"
	// ShapeEffective is `az network nic list-effective-nsg` output (the
	// REST API's effectiveNetworkSecurityGroups): value[] with one entry
	// per NSG association, subnet and NIC.
	ShapeEffective Shape = "effective"
)

// Describe names the shape for people.
func (s Shape) Describe() string {
	switch s {
	case ShapeARM:
		return "ARM resource JSON"
	case ShapeAZ:
		return "az network nsg show"
	case ShapeRuleList:
		return "az network nsg rule list"
	case ShapeEffective:
		return "effective security rules (az network nic list-effective-nsg)"
	}
	return string(s)
}

// NSGInfo is what a document says about where an NSG lives.
type NSGInfo struct {
	ID            string `json:"id,omitempty"`
	ResourceGroup string `json:"resource_group,omitempty"`
	// Association is, for effective rules, the resource ID of the subnet
	// or NIC the NSG is associated with.
	Association string `json:"association,omitempty"`
}

// ParsedNSG is an NSG document mapped to the cloud model.
type ParsedNSG struct {
	Shape Shape `json:"shape"`
	// NSG is the one NSG of an ARM, az or rule-list document: user rules
	// only (the default rules are implied, as in cloud.NSG). Nil for
	// effective rules.
	NSG  *cloud.NSG `json:"nsg,omitempty"`
	Info NSGInfo    `json:"info"`
	// Effective is set for effective rules: both levels the file lists,
	// and VNetPrefixes when the file expands the VirtualNetwork tag.
	Effective  *cloud.EffectiveNSGs `json:"effective,omitempty"`
	SubnetInfo NSGInfo              `json:"subnet_info"`
	NICInfo    NSGInfo              `json:"nic_info"`
	// Tags maps address entries Compile cannot evaluate on its own
	// (service tags such as Storage, and ASG IDs) to the prefixes the
	// file expands them to: effective rules carry tagMap and
	// expanded*AddressPrefix. Pass it to ResolveTags.
	Tags map[string][]string `json:"tags,omitempty"`
	// DefaultRules counts Azure default rules found (and dropped: they
	// are implied).
	DefaultRules int `json:"default_rules"`
	// Warnings are things the reader should know: values assumed,
	// associations guessed.
	Warnings []string `json:"warnings,omitempty"`
}

// EffectiveNSGs returns the document as the NSGs of one NIC: for
// effective rules both levels, else the NSG as the NIC's.
func (p *ParsedNSG) EffectiveNSGs() *cloud.EffectiveNSGs {
	if p.Effective != nil {
		return p.Effective
	}
	return &cloud.EffectiveNSGs{NIC: p.NSG}
}

// ParseNSG reads an NSG in any shape a user has at hand (see Shape),
// detecting which. Field names are matched case-insensitively; singular
// and plural forms (sourceAddressPrefix / sourceAddressPrefixes…) may
// both appear, the plural winning when non-empty; ASGs become their IDs in
// the prefix lists (see IsASG); protocol "All" becomes "*"; rule names
// lose the effective-rules prefixes "securityRules/",
// "defaultSecurityRules/", "UserRule_" and "DefaultRule_". Values are
// not validated: Compile does that, naming the rule.
func ParseNSG(data []byte) (*ParsedNSG, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("netpolicy: %v", err)
	}
	p := &ParsedNSG{}
	if err := p.parse(v); err != nil {
		return nil, fmt.Errorf("netpolicy: %v", err)
	}
	return p, nil
}

const unknownShape = "unknown shape: expected an NSG (ARM JSON, az network nsg show, az network nsg rule list) or effective security rules (az network nic list-effective-nsg)"

func looksLikeNSG(m jobj) bool {
	if m == nil {
		return false
	}
	pr := obj(m, "properties")
	id := strings.ToLower(str(m, "id"))
	return has(m, "securityRules") || has(m, "defaultSecurityRules") ||
		has(pr, "securityRules") || has(pr, "defaultSecurityRules") ||
		strings.EqualFold(str(m, "type"), "Microsoft.Network/networkSecurityGroups") ||
		(strings.Contains(id, "/networksecuritygroups/") && !strings.Contains(id, "securityrules/"))
}

func looksLikeRule(m jobj) bool {
	return m != nil && (has(m, "priority") || has(obj(m, "properties"), "priority"))
}

func looksLikeEffective(m jobj) bool { return m != nil && has(m, "effectiveSecurityRules") }

func looksLikeRoutes(m jobj) bool {
	if m == nil {
		return false
	}
	return has(m, "routes") || has(obj(m, "properties"), "routes") || has(m, "nextHopType")
}

func (p *ParsedNSG) parse(v any) error {
	switch v := v.(type) {
	case []any:
		return p.parseList(v)
	case jobj:
		if list, ok := field(v, "value").([]any); ok {
			return p.parseList(list)
		}
		switch {
		case looksLikeEffective(v):
			return p.parseEffective([]any{v})
		case looksLikeNSG(v):
			return p.parseOne(v)
		case looksLikeRule(v):
			return p.parseRuleList([]any{v})
		case looksLikeRoutes(v):
			return fmt.Errorf("this is a route table, not an NSG (see sshdoctor route next-hop)")
		case has(v, "resources") && has(v, "$schema"):
			return fmt.Errorf("an ARM template is not supported: give the deployed NSG (az network nsg show)")
		}
	}
	return errors.New(unknownShape)
}

func (p *ParsedNSG) parseList(list []any) error {
	if len(list) == 0 {
		return fmt.Errorf("empty list: no NSG, rule or effective rules")
	}
	first, _ := list[0].(jobj)
	switch {
	case looksLikeEffective(first):
		return p.parseEffective(list)
	case looksLikeNSG(first):
		if len(list) > 1 {
			var names []string
			for _, e := range list {
				m, _ := e.(jobj)
				names = append(names, str(m, "name"))
			}
			return fmt.Errorf("the file holds %d NSGs (%s); give one (az network nsg show)", len(list), strings.Join(names, ", "))
		}
		return p.parseOne(first)
	case looksLikeRule(first):
		return p.parseRuleList(list)
	case looksLikeRoutes(first):
		return fmt.Errorf("this is a route table, not an NSG (see sshdoctor route next-hop)")
	}
	return errors.New(unknownShape)
}

// parseOne reads one NSG, ARM (nested) or az (flattened).
func (p *ParsedNSG) parseOne(m jobj) error {
	body := m
	p.Shape = ShapeAZ
	if pr := obj(m, "properties"); pr != nil && (has(pr, "securityRules") || has(pr, "defaultSecurityRules") || !has(m, "securityRules")) {
		body, p.Shape = pr, ShapeARM
	}
	id := str(m, "id")
	name := str(m, "name")
	if name == "" {
		name = lastSegment(id)
	}
	if name == "" {
		name = "nsg"
		p.warn("the NSG has no name; calling it %q", name)
	}
	rg := str(m, "resourceGroup")
	if rg == "" {
		rg = idPart(id, "resourceGroups")
	}
	p.Info = NSGInfo{ID: id, ResourceGroup: rg}
	n := &cloud.NSG{Name: name, Rules: []cloud.SecurityRule{}}
	for _, key := range []string{"securityRules", "defaultSecurityRules"} {
		raw := field(body, key)
		if raw == nil {
			continue
		}
		list, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("nsg %q: %s is not a list", name, key)
		}
		for i, e := range list {
			rm, ok := e.(jobj)
			if !ok {
				return fmt.Errorf("nsg %q: %s[%d] is not an object", name, key, i)
			}
			r, isDefault, err := p.rule(rm, key == "defaultSecurityRules")
			if err != nil {
				return fmt.Errorf("nsg %q: %s[%d]: %v", name, key, i, err)
			}
			if isDefault {
				p.DefaultRules++
				continue
			}
			n.Rules = append(n.Rules, r)
		}
	}
	p.NSG = n
	return nil
}

func (p *ParsedNSG) parseRuleList(list []any) error {
	p.Shape = ShapeRuleList
	n := &cloud.NSG{Rules: []cloud.SecurityRule{}}
	for i, e := range list {
		rm, ok := e.(jobj)
		if !ok {
			return fmt.Errorf("rule %d is not an object", i)
		}
		if id := str(rm, "id"); n.Name == "" && id != "" {
			n.Name = idPart(id, "networkSecurityGroups")
			p.Info = NSGInfo{ID: nsgIDOf(id), ResourceGroup: idPart(id, "resourceGroups")}
		}
		if rg := str(rm, "resourceGroup"); rg != "" && p.Info.ResourceGroup == "" {
			p.Info.ResourceGroup = rg
		}
		r, isDefault, err := p.rule(rm, false)
		if err != nil {
			return fmt.Errorf("rule %d: %v", i, err)
		}
		if isDefault {
			p.DefaultRules++
			continue
		}
		n.Rules = append(n.Rules, r)
	}
	if n.Name == "" {
		n.Name = "nsg"
		p.warn("the rules do not name their NSG (no id); calling it %q", n.Name)
	}
	p.NSG = n
	return nil
}

// nsgIDOf cuts a rule ID down to its NSG's ID.
func nsgIDOf(ruleID string) string {
	lower := strings.ToLower(ruleID)
	for _, sep := range []string{"/securityrules/", "/defaultsecurityrules/"} {
		if i := strings.Index(lower, sep); i >= 0 {
			return ruleID[:i]
		}
	}
	return ""
}

// parseEffective reads effective security rules: one entry per NSG
// association.
func (p *ParsedNSG) parseEffective(list []any) error {
	p.Shape = ShapeEffective
	p.Effective = &cloud.EffectiveNSGs{}
	p.Tags = map[string][]string{}
	type pending struct {
		nsg  *cloud.NSG
		info NSGInfo
	}
	var unassociated []pending
	for i, e := range list {
		m, ok := e.(jobj)
		if !ok || !looksLikeEffective(m) {
			return fmt.Errorf("effective rules entry %d has no effectiveSecurityRules", i)
		}
		nsgID := idOf(field(m, "networkSecurityGroup"))
		assoc := obj(m, "association")
		subnetID, nicID := idOf(field(assoc, "subnet")), idOf(field(assoc, "networkInterface"))
		name := lastSegment(nsgID)
		if name == "" {
			name = fmt.Sprintf("nsg%d", i+1)
			p.warn("effective rules entry %d does not name its NSG; calling it %q", i, name)
		}
		n := &cloud.NSG{Name: name, Rules: []cloud.SecurityRule{}}
		info := NSGInfo{ID: nsgID, ResourceGroup: idPart(nsgID, "resourceGroups")}
		rules, ok := field(m, "effectiveSecurityRules").([]any)
		if !ok {
			return fmt.Errorf("effective rules entry %d: effectiveSecurityRules is not a list", i)
		}
		for j, re := range rules {
			rm, ok := re.(jobj)
			if !ok {
				return fmt.Errorf("nsg %q: effective rule %d is not an object", name, j)
			}
			r, isDefault, err := p.rule(rm, false)
			if err != nil {
				return fmt.Errorf("nsg %q: effective rule %d: %v", name, j, err)
			}
			// A side listed only by its expansion (as for ASG rules).
			if len(r.SourceAddressPrefixes) == 0 {
				r.SourceAddressPrefixes = strs(rm, "expandedSourceAddressPrefix")
			}
			if len(r.DestinationAddressPrefixes) == 0 {
				r.DestinationAddressPrefixes = strs(rm, "expandedDestinationAddressPrefix")
			}
			p.expansions(rm, r)
			if isDefault {
				p.DefaultRules++
				continue
			}
			n.Rules = append(n.Rules, r)
		}
		p.tagMap(field(m, "tagMap"))
		switch {
		case subnetID != "" && nicID == "":
			info.Association = subnetID
			if p.Effective.Subnet != nil {
				return fmt.Errorf("two effective rules entries for the subnet (%s, %s)", p.Effective.Subnet.Name, name)
			}
			p.Effective.Subnet, p.SubnetInfo = n, info
		case nicID != "" && subnetID == "":
			info.Association = nicID
			if p.Effective.NIC != nil {
				return fmt.Errorf("two effective rules entries for the NIC (%s, %s)", p.Effective.NIC.Name, name)
			}
			p.Effective.NIC, p.NICInfo = n, info
		default:
			unassociated = append(unassociated, pending{n, info})
		}
	}
	for _, u := range unassociated {
		// Which level an NSG sits at changes which one is reported as
		// deciding, never the verdict: both must allow.
		switch {
		case p.Effective.NIC == nil:
			p.Effective.NIC, p.NICInfo = u.nsg, u.info
			p.warn("effective rules for NSG %q do not say whether it is the subnet's or the NIC's; taken as the NIC's", u.nsg.Name)
		case p.Effective.Subnet == nil:
			p.Effective.Subnet, p.SubnetInfo = u.nsg, u.info
			p.warn("effective rules for NSG %q do not say whether it is the subnet's or the NIC's; taken as the subnet's", u.nsg.Name)
		default:
			return fmt.Errorf("more than two NSG associations in the effective rules")
		}
	}
	for k, v := range p.Tags {
		if strings.EqualFold(k, "VirtualNetwork") && len(v) > 0 {
			p.Effective.VNetPrefixes = slices.Clone(v)
		}
	}
	if len(p.Tags) == 0 {
		p.Tags = nil
	}
	return nil
}

// expansions records what an effective rule expands its address entries
// to, when a side holds a single entry Compile cannot evaluate alone or
// a VirtualNetwork tag.
func (p *ParsedNSG) expansions(m jobj, r cloud.SecurityRule) {
	for _, side := range []struct {
		list []string
		key  string
	}{{r.SourceAddressPrefixes, "expandedSourceAddressPrefix"}, {r.DestinationAddressPrefixes, "expandedDestinationAddressPrefix"}} {
		exp := strs(m, side.key)
		if len(side.list) != 1 || len(exp) == 0 {
			continue
		}
		e := side.list[0]
		if strings.EqualFold(e, "VirtualNetwork") || IsASG(e) || looksLikeTag(e) {
			p.addTag(e, exp)
		}
	}
}

// tagMap reads an effective entry's tagMap: tag → prefixes, as an object
// or as a JSON string holding one.
func (p *ParsedNSG) tagMap(v any) {
	if s, ok := v.(string); ok {
		var m map[string][]string
		if json.Unmarshal([]byte(s), &m) == nil {
			for k, ps := range m {
				p.addTag(k, ps)
			}
		}
		return
	}
	m, ok := v.(jobj)
	if !ok {
		return
	}
	for k := range m {
		if ps := strs(m, k); len(ps) > 0 {
			p.addTag(k, ps)
		}
	}
}

func (p *ParsedNSG) addTag(tag string, prefixes []string) {
	for k := range p.Tags {
		if strings.EqualFold(k, tag) {
			tag = k
			break
		}
	}
	for _, x := range prefixes {
		if !slices.Contains(p.Tags[tag], x) {
			p.Tags[tag] = append(p.Tags[tag], x)
		}
	}
}

func (p *ParsedNSG) warn(format string, a ...any) {
	p.Warnings = append(p.Warnings, fmt.Sprintf(format, a...))
}

// ruleNamePrefixes are how effective rules name user and default rules.
var ruleNamePrefixes = []struct {
	prefix    string
	isDefault bool
}{
	{"securityRules/", false}, {"defaultSecurityRules/", true},
	{"UserRule_", false}, {"DefaultRule_", true},
}

// rule maps one rule object (nested under properties or flattened) to
// the cloud model. isDefault is true for Azure's default rules.
func (p *ParsedNSG) rule(m jobj, inDefaults bool) (r cloud.SecurityRule, isDefault bool, err error) {
	body := m
	if pr := obj(m, "properties"); pr != nil {
		body = pr
	}
	r.Name = str(m, "name")
	if r.Name == "" {
		r.Name = str(body, "name")
	}
	isDefault = inDefaults
	for _, np := range ruleNamePrefixes {
		if len(r.Name) > len(np.prefix) && strings.EqualFold(r.Name[:len(np.prefix)], np.prefix) {
			r.Name, isDefault = r.Name[len(np.prefix):], isDefault || np.isDefault
			break
		}
	}
	if r.Name == "" {
		return r, false, fmt.Errorf("rule without a name")
	}
	prio, ok := integer(body, "priority")
	if !ok {
		return r, false, fmt.Errorf("rule %q: no numeric priority", r.Name)
	}
	r.Priority = prio
	r.Direction = cloud.Direction(canonical(str(body, "direction"), "Inbound", "Outbound"))
	r.Access = cloud.Access(canonical(str(body, "access"), "Allow", "Deny"))
	r.Protocol = canonical(str(body, "protocol"), "Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
	if strings.EqualFold(r.Protocol, "All") || strings.EqualFold(r.Protocol, "Any") {
		r.Protocol = "*"
	}
	r.SourceAddressPrefixes = addresses(body, "source")
	r.DestinationAddressPrefixes = addresses(body, "destination")
	r.SourcePortRanges = pluralOr(body, "sourcePortRanges", "sourcePortRange")
	r.DestinationPortRanges = pluralOr(body, "destinationPortRanges", "destinationPortRange")
	if len(r.SourcePortRanges) == 0 {
		r.SourcePortRanges = []string{"*"}
	}
	if len(r.DestinationPortRanges) == 0 {
		r.DestinationPortRanges = []string{"*"}
		if !isDefault && !strings.EqualFold(r.Protocol, "Icmp") {
			p.warn("rule %q has no destination port range; taken as *", r.Name)
		}
	}
	// Some tools list the default rules among the user rules.
	if !isDefault && prio >= 65000 {
		for _, d := range cloud.DefaultRules() {
			if strings.EqualFold(d.Name, r.Name) && d.Priority == prio {
				isDefault = true
			}
		}
	}
	if isDefault {
		r.Default = true
	}
	return r, isDefault, nil
}

// canonical returns s spelt as the first of names it equals
// case-insensitively, else s.
func canonical(s string, names ...string) string {
	for _, n := range names {
		if strings.EqualFold(s, n) {
			return n
		}
	}
	return s
}

func pluralOr(m jobj, plural, singular string) []string {
	if l := strs(m, plural); len(l) > 0 {
		return l
	}
	return strs(m, singular)
}

// addresses reads one side's prefixes and application security groups.
func addresses(m jobj, side string) []string {
	out := pluralOr(m, side+"AddressPrefixes", side+"AddressPrefix")
	for _, a := range arr(m, side+"ApplicationSecurityGroups") {
		id := idOf(a)
		if id == "" {
			continue
		}
		if !strings.HasPrefix(id, "/") {
			id = "/" + id
		}
		out = append(out, id)
	}
	return out
}

// looksLikeTag reports whether s has the form of a service tag
// ("Storage", "AzureCloud.WestEurope", "Sql.EastUS2"): a letter, then
// letters, digits, '.', '_' or '-'. Addresses never do (IPv6 has ':').
func looksLikeTag(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
