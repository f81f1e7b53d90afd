package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Error is an Azure Resource Manager call that failed, with what it was
// for and the permission it needs, so that a 403 or 404 becomes a finding
// that names the missing permission or resource instead of a dump. It is
// also the cloud error it stands for: errors.Is(err, cloud.ErrForbidden).
type Error struct {
	Op       string `json:"op"`       // what sshdoctor was doing: "read VM web1"
	Action   string `json:"action"`   // the RBAC action the call needs
	Resource string `json:"resource"` // ID of the resource the call was about
	Status   int    `json:"status"`   // HTTP status; 0 when Azure gave none (network, sign-in)
	Code     string `json:"code"`     // ARM's error code, e.g. AuthorizationFailed, ResourceNotFound
	Message  string `json:"message"`  // ARM's message, first line
	Err      error  `json:"-"`
}

func (e *Error) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	case e.Message != "":
		return fmt.Sprintf("%s: %s (HTTP %d %s): %s", e.Op, e.Code, e.Status, http.StatusText(e.Status), e.Message)
	}
	return fmt.Sprintf("%s: %s (HTTP %d %s)", e.Op, e.Code, e.Status, http.StatusText(e.Status))
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, cloud.ErrNotFound) and the other cloud errors
// hold for the ARM answers that mean them.
func (e *Error) Is(target error) bool {
	k := e.kind()
	return k != nil && target == k
}

// kind is the cloud error an ARM answer stands for; nil when none does.
// ARM's codes and messages, as Azure sends them:
//   - 409 Conflict "Run command extension execution is in progress…":
//     one run-command at a time per VM;
//   - 409 OperationNotAllowed "The operation requires the VM to be
//     running (or set to run).";
//   - VMAgentStatusCommunicationError "VM … has not reported status for VM
//     agent or extensions…", when an extension (or run-command) waited for
//     an agent that never answered;
//   - AnotherOperationInProgress (network resource provider).
func (e *Error) kind() error {
	msg := strings.ToLower(e.Message)
	switch {
	case e.Status == http.StatusNotFound:
		return cloud.ErrNotFound
	case e.Status == http.StatusForbidden || e.Code == "AuthorizationFailed" || e.Code == "LinkedAuthorizationFailed":
		return cloud.ErrForbidden
	case e.Code == "VMAgentStatusCommunicationError":
		return cloud.ErrAgentNotReady
	case e.Status == http.StatusConflict && (strings.Contains(msg, "requires the vm to be running") || strings.Contains(msg, "deallocated")):
		return cloud.ErrNotRunning
	case e.Code == "AnotherOperationInProgress" || e.Code == "OperationPreempted",
		e.Status == http.StatusConflict && (e.Code == "Conflict" || strings.Contains(msg, "in progress")),
		// Any other conflict of a run-command is the one already running.
		e.Status == http.StatusConflict && e.Action == actRunCommand:
		return cloud.ErrBusy
	}
	return nil
}

// Forbidden: the identity lacks Action on Resource.
func (e *Error) Forbidden() bool { return e.Status == http.StatusForbidden }

// NotFound: Resource (or its resource group) does not exist.
func (e *Error) NotFound() bool { return e.Status == http.StatusNotFound }

// fail wraps err from an ARM call; nil stays nil, and an *Error from a
// nested call is kept as it is.
func fail(err error, op, action, resource string) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	e := &Error{Op: op, Action: action, Resource: resource, Err: err}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status, e.Code, e.Message = re.StatusCode, re.ErrorCode, firstLine(armMessage(err))
	}
	return e
}

// armMessage is the "error.message" of an ARM error body, the part a
// person should read; "" when there is none.
func armMessage(err error) string {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.RawResponse == nil {
		return ""
	}
	body, rerr := runtime.Payload(re.RawResponse)
	if rerr != nil {
		return ""
	}
	var doc struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	return doc.Error.Message
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
