// Command flux-health judges Kubernetes objects by the healthCheckExprs of a Flux
// Kustomization, with Flux's own evaluator (github.com/fluxcd/pkg/runtime/cel.StatusEvaluator,
// what kustomize-controller's `wait` runs for the kinds those expressions name).
//
//	flux-health KUSTOMIZATION.yaml < objects.jsonl
//
// It reads a stream of JSON objects on stdin and prints one JSON line per object:
// {"kind": ..., "name": ..., "status": "Current" | "InProgress" | "Failed"}, or
// {"kind": ..., "name": ..., "error": ...} where the evaluation fails (Flux then reports the
// object's status as Unknown and keeps waiting until its timeout). An object whose kind the
// Kustomization has no expressions for, or a Kustomization without any, is an error (exit 1).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// answer is one output line.
type answer struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// kustomization is the part of a Flux Kustomization this reads.
type kustomization struct {
	Spec struct {
		HealthCheckExprs []kustomize.CustomHealthCheck `json:"healthCheckExprs"`
	} `json:"spec"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: flux-health KUSTOMIZATION.yaml < objects.jsonl")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flux-health:", err)
		os.Exit(1)
	}
}

func run(path string, in io.Reader, out io.Writer) error {
	evaluators, err := load(path)
	if err != nil {
		return err
	}
	objects := json.NewDecoder(in)
	results := json.NewEncoder(out)
	results.SetEscapeHTML(false) // the expressions in an error keep their &&
	for position := 1; ; position++ {
		var raw json.RawMessage
		if err := objects.Decode(&raw); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("object %d is not JSON: %w", position, err)
		}
		var object unstructured.Unstructured // numbers as int64, as read from the API server
		if err := object.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("object %d: %w", position, err)
		}
		evaluator, found := evaluators[object.GroupVersionKind().GroupKind()]
		if !found {
			return fmt.Errorf("object %d: %s has no healthCheckExprs in %s", position,
				object.GroupVersionKind(), path)
		}
		line := answer{Kind: object.GetKind(), Name: object.GetName()}
		if result, err := evaluator.Evaluate(context.Background(), &object); err != nil {
			line.Error = err.Error()
		} else {
			line.Status = result.Status.String()
		}
		if err := results.Encode(line); err != nil {
			return err
		}
	}
}

// load builds an evaluator per kind named in the Kustomization's healthCheckExprs, as
// cel.PollerWithCustomHealthChecks does (an expression that does not parse is an error).
func load(path string) (map[schema.GroupKind]*cel.StatusEvaluator, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.Unmarshal(text, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(k.Spec.HealthCheckExprs) == 0 {
		return nil, fmt.Errorf("%s: no spec.healthCheckExprs", path)
	}
	evaluators := map[schema.GroupKind]*cel.StatusEvaluator{}
	for _, check := range k.Spec.HealthCheckExprs {
		gv, err := schema.ParseGroupVersion(check.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		evaluator, err := cel.NewStatusEvaluator(&check.HealthCheckExpressions)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, check.Kind, err)
		}
		evaluators[gv.WithKind(check.Kind).GroupKind()] = evaluator
	}
	return evaluators, nil
}
