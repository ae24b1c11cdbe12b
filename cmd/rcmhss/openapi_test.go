package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/rcm"
)

// mountedRoutes are the routes of every handler run on the admin listener
// (see server.routes) with RCM and its provisioning server on: the API that
// docs/openapi.yaml describes.
func mountedRoutes() []string {
	return slices.Concat(admin.Routes(), admin.EIRRoutes(), rcm.AdminRoutes(), rcm.ProviderAdminRoutes())
}

// docs/openapi.yaml documents every route the admin listener serves, and
// nothing else; every operation documents its responses.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	data, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			if m, _ := op.(map[string]any); m["responses"] == nil {
				t.Errorf("%s %s has no responses", method, path)
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	routes := mountedRoutes()
	slices.Sort(documented)
	slices.Sort(routes)
	if !slices.Equal(documented, routes) {
		t.Fatalf("docs/openapi.yaml documents\n  %q\nthe admin listener serves\n  %q", documented, routes)
	}
}
