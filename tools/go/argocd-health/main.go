// Command argocd-health runs an Argo CD resource health check (a health.lua) over Kubernetes
// objects the way Argo CD runs it, and prints each answer as one line of JSON.
//
//	argocd-health [-controller] SCRIPT [OBJECT.json ...]
//
// Without OBJECT files it reads a stream of JSON objects from stdin. Each answer is
// {"status": ..., "message": ...} (empty fields left out, as Argo CD's HealthStatus), or
// {"error": ...} when the script fails; the exit status is 1 if any did.
//
// It mirrors argo-cd v3 (read at commit 37ee0097cf85, August 2026) at the gopher-lua and
// gopher-json versions of argo-cd's go.mod:
// util/lua/lua.go (VM.runLuaWithResourceActionParameters, decodeValue, VM.ExecuteHealthLua,
// isValidHealthStatusCode), util/lua/oslib_safe.go, and with -controller also
// gitops-engine/pkg/health/health.go (GetResourceHealth). The script runs as a health check
// from argocd-cm (resource.customizations.health.<group>_<kind>) without
// resource.customizations.useOpenLibs, as deploy/argocd/values-argocd.yaml installs it: only
// the package, base and table libraries are opened, and `os` (time, date) comes only through
// require("os"). Argo CD's own test of resource_customizations opens every library instead,
// which would let a script use string.* that then fails in the controller.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

// healthStatus is gitops-engine's health.HealthStatus.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// healthCodes are gitops-engine's HealthStatusCode values (isValidHealthStatusCode).
var healthCodes = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true,
	"Missing": true,
}

// safeOsFuncs is oslib_safe.go's osFuncs: only time and date of the os library. Argo CD's
// copies of them were taken from gopher-lua; here they are gopher-lua's own.
func safeOsFuncs() map[string]lua.LGFunction {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	l.Push(l.NewFunction(lua.OpenOs))
	l.Call(0, 1)
	full := l.Get(-1).(*lua.LTable)
	funcs := map[string]lua.LGFunction{}
	for _, name := range []string{"time", "date"} {
		funcs[name] = full.RawGetString(name).(*lua.LFunction).GFunction
	}
	return funcs
}

// runLua mirrors VM.runLuaWithResourceActionParameters with UseOpenLibs false and no action
// parameters: the libraries it opens, the 1 s deadline, the globals obj and actionParams,
// and the stack trace taken off run-time errors.
func runLua(obj map[string]any, script string) (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	osFuncs := safeOsFuncs()
	// OpenSafeOs registers its functions under TabLibName, as argo-cd's does: the table module
	// is loaded by then, so RegisterModule adds nothing and there is no global os.
	openSafeOs := func(l *lua.LState) int {
		l.Push(l.RegisterModule(lua.TabLibName, osFuncs))
		return 1
	}
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(pair.f), NRet: 0, Protect: true},
			lua.LString(pair.n)); err != nil {
			panic(err)
		}
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int { // SafeOsLoader
		l.Push(l.SetFuncs(l.NewTable(), osFuncs))
		return 1
	})

	ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj))

	fn, err := l.LoadString(script)
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = ""
		err = apiErr
	}
	return l, err
}

// decodeValue mirrors lua.go's decodeValue (itself gopher-json's DecodeValue with integer
// types added). The controller's objects hold int64 where this tool's JSON decoding gives
// float64: both become the same LNumber, so only the float64 case is needed here.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// executeHealthLua mirrors VM.ExecuteHealthLua: the returned table goes through gopher-json
// into a HealthStatus; a table that does not fit it (an empty table encodes as an array)
// or nil is an empty status, an unknown status code is Unknown.
func executeHealthLua(obj map[string]any, script string) (*healthStatus, error) {
	l, err := runLua(obj, script)
	if err != nil {
		return nil, err
	}
	returnValue := l.Get(-1)
	switch returnValue.Type() {
	case lua.LTTable:
		jsonBytes, err := luajson.Encode(returnValue)
		if err != nil {
			return nil, err
		}
		status := &healthStatus{}
		if err := json.Unmarshal(jsonBytes, status); err != nil {
			var typeError *json.UnmarshalTypeError
			if errors.As(err, &typeError) {
				return &healthStatus{}, nil
			}
			return nil, err
		}
		if !healthCodes[status.Status] {
			return &healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
		}
		return status, nil
	case lua.LTNil:
		return &healthStatus{}, nil
	}
	return nil, fmt.Errorf("expect table output from Lua script, not %s", returnValue.Type().String())
}

// resourceHealth mirrors gitops-engine's health.GetResourceHealth in front of a Lua
// override: an object being deleted (without Argo CD's hook finalizer) is Progressing
// "Pending deletion" and the script is not run.
func resourceHealth(obj map[string]any, script string) (*healthStatus, error) {
	metadata, _ := obj["metadata"].(map[string]any)
	if metadata["deletionTimestamp"] != nil && !hasHookFinalizer(metadata) {
		return &healthStatus{Status: "Progressing", Message: "Pending deletion"}, nil
	}
	return executeHealthLua(obj, script)
}

// hasHookFinalizer mirrors gitops-engine's hook.HasHookFinalizer.
func hasHookFinalizer(metadata map[string]any) bool {
	finalizers, _ := metadata["finalizers"].([]any)
	for _, finalizer := range finalizers {
		if finalizer == "argocd.argoproj.io/hook-finalizer" {
			return true
		}
	}
	return false
}

// objects yields the JSON objects of the named files, or of the stream on stdin.
func objects(paths []string, yield func(source string, obj map[string]any, err error)) {
	if len(paths) == 0 {
		decoder := json.NewDecoder(os.Stdin)
		for n := 1; ; n++ {
			var obj map[string]any
			err := decoder.Decode(&obj)
			if err == io.EOF {
				return
			}
			yield(fmt.Sprintf("stdin object %d", n), obj, err)
			if err != nil {
				return // the stream cannot be read past a syntax error
			}
		}
	}
	for _, path := range paths {
		var obj map[string]any
		data, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(data, &obj)
		}
		yield(path, obj, err)
	}
}

func main() {
	controller := flag.Bool("controller", false,
		"answer as the application controller shows it (gitops-engine's GetResourceHealth): "+
			"an object being deleted is Progressing \"Pending deletion\" without running the script")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: argocd-health [-controller] SCRIPT [OBJECT.json ...]  (no OBJECT: JSON objects on stdin)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	script, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	evaluate := executeHealthLua
	if *controller {
		evaluate = resourceHealth
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	failed := false
	objects(flag.Args()[1:], func(source string, obj map[string]any, err error) {
		var status *healthStatus
		switch {
		case err != nil:
			err = fmt.Errorf("%s: not a JSON object: %w", source, err)
		case obj == nil:
			err = fmt.Errorf("%s: not a JSON object", source)
		default:
			status, err = evaluate(obj, string(script))
		}
		if err != nil {
			failed = true
			_ = out.Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = out.Encode(status)
	})
	if failed {
		os.Exit(1)
	}
}
