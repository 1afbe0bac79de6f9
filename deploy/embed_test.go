package deploy

import (
	"reflect"
	"testing"
)

func TestDynamicConfig(t *testing.T) {
	got, err := DynamicConfig()
	if err != nil {
		t.Fatalf("DynamicConfig: %v", err)
	}
	want := map[string]any{
		"history.transferProcessorMaxPollRPS":            1000,
		"history.visibilityProcessorMaxPollRPS":          1000,
		"matching.numTaskqueueReadPartitions":            1,
		"matching.numTaskqueueWritePartitions":           1,
		"system.forceSearchAttributesCacheRefreshOnRead": false,
		"frontend.persistenceMaxQPS":                     10000,
		"history.persistenceMaxQPS":                      45000,
		"frontend.namespaceRPS.visibility":               100,
		"frontend.enableUpdateWorkflowExecution":         true,
		"history.hostLevelCacheMaxSize":                  8192,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DynamicConfig() =\n%#v\nwant\n%#v", got, want)
	}
	// The server's dynamic config wants int, not int64 or float64.
	if _, ok := got["history.transferProcessorMaxPollRPS"].(int); !ok {
		t.Errorf("integer value has type %T, want int", got["history.transferProcessorMaxPollRPS"])
	}
}

func TestParseDynamicConfig(t *testing.T) {
	got, err := ParseDynamicConfig([]byte(`
a.key:
  - value: 1
    constraints: {namespace: "x"}
  - value: 2
b.key:
  - value: "s"
    constraints: {taskQueueName: "q"}
c.key:
  - value: 1.5
    constraints: {}
`))
	if err != nil {
		t.Fatalf("ParseDynamicConfig: %v", err)
	}
	want := map[string]any{"a.key": 2, "c.key": 1.5}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	if _, err := ParseDynamicConfig([]byte("a:\n  - value: 1\n  - value: 2\n")); err == nil {
		t.Error("two unconstrained values: want error")
	}
	if _, err := ParseDynamicConfig([]byte("a: [")); err == nil {
		t.Error("bad YAML: want error")
	}
}

func TestDynamicConfigYAMLIsACopy(t *testing.T) {
	b := DynamicConfigYAML()
	b[0] = 'X'
	if DynamicConfigYAML()[0] == 'X' {
		t.Error("DynamicConfigYAML returned the embedded slice")
	}
}
