// Command yaml2json converts YAML on stdin (one or more documents) to JSON
// on stdout, one document per line, so that the Lua test runner of the Argo
// CD health checks (tests/e2e/argocd) can read Argo CD's YAML test layout.
// Test infrastructure only: the product is Rust.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "yaml2json:", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, doc := range bytes.Split(append([]byte("\n"), in...), []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "yaml2json:", err)
			os.Exit(1)
		}
		if string(j) == "null" {
			continue
		}
		out.Write(j)
		out.WriteString("\n")
	}
}
