package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Error is an Azure Resource Manager call that failed, with what it was
// for and the permission it needs, so that a 403 or 404 becomes a finding
// that names the missing permission or resource instead of a dump.
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
