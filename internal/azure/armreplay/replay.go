// Package armreplay serves recorded Azure Resource Manager responses over
// HTTPS to the real Azure SDK clients, so that tests meet the shapes Azure
// really sends — not the SDK's own types, as its fake servers do. A shape
// the SDK cannot decode fails here as it would against Azure.
//
// The recordings are the examples of Azure/azure-rest-api-specs, kept
// verbatim in internal/azure/testdata/arm (SOURCES.tsv names each one's
// path and commit), and real error bodies under testdata/arm/errors.
//
// Routes match by method and path pattern: "*" stands for one path
// segment, so one NIC example answers for whatever NIC the VM names.
// Long-running operations answer 202 with Azure-AsyncOperation and
// Location headers on this server and are polled to completion, as ARM
// does.
package armreplay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Response is one recorded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Polls > 0 makes it a long-running operation: 202 first, then this
	// many "InProgress" answers on its status URL before "Succeeded" (or
	// Status's failure) and Body as the result.
	Polls int
}

// Request is a request the server received.
type Request struct {
	Method, Path, Query string
	Body                []byte
}

// Server is an HTTPS ARM endpoint on loopback.
type Server struct {
	*httptest.Server
	t testing.TB

	mu       sync.Mutex
	routes   []route
	ops      map[string]*op
	nextOp   int
	requests []Request
}

type route struct {
	method  string
	pattern []string
	answers []Response // served in turn; the last one repeats
	served  int
}

type op struct {
	resp  Response
	polls int
}

// New starts a server; it stops with the test.
func New(t testing.TB) *Server {
	s := &Server{t: t, ops: map[string]*op{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// A client that goes away mid-handshake is not news.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// Handle answers method on paths matching pattern with answers in turn
// (the last repeats). Later routes win over earlier ones, so a test can
// override a default.
func (s *Server) Handle(method, pattern string, answers ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = append(s.routes, route{method: method, pattern: split(pattern), answers: answers})
}

// Requests returns what the server received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count is how many requests matched method and pattern.
func (s *Server) Count(method, pattern string) int {
	n := 0
	p := split(pattern)
	for _, r := range s.Requests() {
		if r.Method == method && match(p, split(r.Path)) {
			n++
		}
	}
	return n
}

func split(path string) []string {
	return strings.Split(strings.Trim(path, "/"), "/")
}

func match(pattern, path []string) bool {
	if len(pattern) != len(path) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && !strings.EqualFold(p, path[i]) {
			return false
		}
	}
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body})
	if strings.HasPrefix(r.URL.Path, "/_op/") {
		s.serveOp(w, r)
		s.mu.Unlock()
		return
	}
	var resp *Response
	for i := len(s.routes) - 1; i >= 0; i-- {
		rt := &s.routes[i]
		if rt.method == r.Method && match(rt.pattern, split(r.URL.Path)) {
			n := min(rt.served, len(rt.answers)-1)
			rt.served++
			a := rt.answers[n]
			resp = &a
			break
		}
	}
	if resp == nil {
		s.mu.Unlock()
		s.t.Errorf("armreplay: no recorded answer for %s %s", r.Method, r.URL.Path)
		writeJSON(w, http.StatusNotImplemented, nil, []byte(`{"error":{"code":"NotRecorded","message":"no recorded answer"}}`))
		return
	}
	if resp.Polls > 0 {
		s.nextOp++
		id := strconv.Itoa(s.nextOp)
		s.ops[id] = &op{resp: *resp}
		s.mu.Unlock()
		h := http.Header{}
		h.Set("Azure-AsyncOperation", s.URL+"/_op/"+id)
		h.Set("Location", s.URL+"/_op/"+id+"/result")
		h.Set("Retry-After", "0")
		if r.Method == http.MethodPut {
			// ARM answers a PUT it carries on with 201 and the resource
			// as it stands; the final GET is on the resource itself.
			writeJSON(w, http.StatusCreated, h, resp.Body)
			return
		}
		writeJSON(w, http.StatusAccepted, h, nil)
		return
	}
	s.mu.Unlock()
	writeJSON(w, resp.Status, resp.Header, resp.Body)
}

// serveOp answers a long-running operation's status and result URLs
// (called with s.mu held).
func (s *Server) serveOp(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/_op/")
	id, result := strings.CutSuffix(rest, "/result")
	o := s.ops[id]
	if o == nil {
		writeJSON(w, http.StatusNotFound, nil, []byte(`{"error":{"code":"NotFound","message":"no such operation"}}`))
		return
	}
	if result {
		writeJSON(w, o.resp.Status, o.resp.Header, o.resp.Body)
		return
	}
	h := http.Header{"Retry-After": {"0"}}
	if o.polls < o.resp.Polls {
		o.polls++
		writeJSON(w, http.StatusOK, h, []byte(`{"status":"InProgress"}`))
		return
	}
	if o.resp.Status >= 400 {
		// A failed operation: ARM's status body carries the error.
		var e struct {
			Error json.RawMessage `json:"error"`
		}
		_ = json.Unmarshal(o.resp.Body, &e)
		writeJSON(w, http.StatusOK, h, []byte(fmt.Sprintf(`{"status":"Failed","error":%s}`, orNull(e.Error))))
		return
	}
	// The final body travels in the status answer too: with
	// final-state-via azure-async-operation the SDK reads it from there.
	status := map[string]any{}
	if len(o.resp.Body) > 0 {
		_ = json.Unmarshal(o.resp.Body, &status)
	}
	status["status"] = "Succeeded"
	b, _ := json.Marshal(status)
	writeJSON(w, http.StatusOK, h, b)
}

func orNull(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, h http.Header, body []byte) {
	for k, v := range h {
		w.Header()[http.CanonicalHeaderKey(k)] = v
	}
	if len(body) > 0 && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.Header().Set("x-ms-request-id", "00000000-0000-0000-0000-000000000001")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ClientOptions point the SDK's ARM clients at this server, trusting its
// certificate, with retries that do not wait long.
func (s *Server) ClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: s.URL + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Audience: s.URL, Endpoint: s.URL},
			},
		},
		Transport: s.Client(),
		Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
	}}
}

// Credential is a token credential that hands out a fixed token.
func Credential() azcore.TokenCredential { return staticToken{} }

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "replay-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Dir is internal/azure/testdata/arm, where the recordings are.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "arm")
}

// Example reads a recorded spec example (testdata/arm/NAME.json) and
// returns its answer for status: the body and headers Azure sent.
func Example(t testing.TB, name string, status int) Response {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(), name))
	if err != nil {
		t.Fatalf("armreplay: %v", err)
	}
	var ex struct {
		Responses map[string]struct {
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(data, &ex); err != nil {
		t.Fatalf("armreplay: %s: %v", name, err)
	}
	r, ok := ex.Responses[strconv.Itoa(status)]
	if !ok {
		t.Fatalf("armreplay: %s has no %d response", name, status)
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return Response{Status: status, Header: h, Body: r.Body}
}

// ErrorResponse reads a recorded error answer (testdata/arm/errors/NAME.json:
// {"status", "headers", "body", "source"}).
func ErrorResponse(t testing.TB, name string) Response {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(), "errors", name))
	if err != nil {
		t.Fatalf("armreplay: %v", err)
	}
	var e struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("armreplay: %s: %v", name, err)
	}
	h := http.Header{}
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	return Response{Status: e.Status, Header: h, Body: e.Body}
}

// Edit returns r with its JSON body changed by f (decoded as generic
// JSON: objects are map[string]any). Recordings stay verbatim on disk;
// a test states what it changes.
func (r Response) Edit(t testing.TB, f func(body map[string]any)) Response {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("armreplay: edit: %v", err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("armreplay: edit: %v", err)
	}
	r.Body = b
	return r
}

// LRO returns r as a long-running operation polled polls times.
func (r Response) LRO(polls int) Response {
	r.Polls = max(polls, 1)
	return r
}

// JSON is a Response with status and a literal JSON body.
func JSON(status int, body string) Response {
	return Response{Status: status, Body: []byte(body)}
}
