// Command kstatus prints what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, the
// library Flux and kpt judge resources with) says of Kubernetes objects.
//
// It reads JSON on stdin: one or more objects, each a single object or a List (what
// `kubectl get -o json` prints), and writes one JSON line per object:
//
//	{"kind":"VpnUser","namespace":"ns","name":"alice","status":"Current","message":"..."}
//
// Bad input (not JSON, an object without kind, a status kstatus cannot read) is reported on
// stderr with the object's position and name, and the exit status is 1.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// verdict is one output line.
type verdict struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// header is what an input value must have before the apimachinery decoder sees it, so that a
// missing kind is reported by position rather than by echoing the whole document.
type header struct {
	Kind string `json:"kind"`
}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: kstatus < objects.json (an object or a List, as kubectl get -o json prints)")
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	err := run(os.Stdin, json.NewEncoder(out))
	if flushErr := out.Flush(); err == nil {
		err = flushErr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

// run computes and writes the status of every object of every JSON value in `in`.
func run(in io.Reader, out *json.Encoder) error {
	values := json.NewDecoder(in)
	count := 0
	for position := 1; ; position++ {
		var raw json.RawMessage
		if err := values.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("input value %d is not JSON: %w", position, err)
		}
		objects, err := decode(raw)
		if err != nil {
			return fmt.Errorf("input value %d: %w", position, err)
		}
		for _, object := range objects {
			line, err := compute(object)
			if err != nil {
				return fmt.Errorf("input value %d: %w", position, err)
			}
			if err := out.Encode(line); err != nil {
				return err
			}
			count++
		}
	}
	if count == 0 {
		return errors.New("no object on stdin")
	}
	return nil
}

// decode turns one JSON value into its objects: the value itself, or a List's items.
func decode(raw json.RawMessage) ([]*unstructured.Unstructured, error) {
	var head header
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if head.Kind == "" {
		return nil, errors.New("not a Kubernetes object: no kind")
	}
	decoded, err := runtime.Decode(unstructured.UnstructuredJSONScheme, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", head.Kind, err)
	}
	switch value := decoded.(type) {
	case *unstructured.Unstructured:
		return []*unstructured.Unstructured{value}, nil
	case *unstructured.UnstructuredList:
		items := make([]*unstructured.Unstructured, len(value.Items))
		for i := range value.Items {
			items[i] = &value.Items[i]
		}
		return items, nil
	default:
		return nil, fmt.Errorf("%s: neither an object nor a List", head.Kind)
	}
}

// compute is kstatus's verdict on one object.
func compute(object *unstructured.Unstructured) (verdict, error) {
	result, err := status.Compute(object)
	if err != nil {
		return verdict{}, fmt.Errorf("%s %s: %w", object.GetKind(), qualifiedName(object), err)
	}
	return verdict{
		Kind:      object.GetKind(),
		Namespace: object.GetNamespace(),
		Name:      object.GetName(),
		Status:    result.Status.String(),
		Message:   result.Message,
	}, nil
}

// qualifiedName is namespace/name, or the name alone for a cluster-scoped object.
func qualifiedName(object *unstructured.Unstructured) string {
	if object.GetNamespace() == "" {
		return object.GetName()
	}
	return object.GetNamespace() + "/" + object.GetName()
}
