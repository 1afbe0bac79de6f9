package interpreter

import (
	"bytes"
	"encoding/json"
	"time"
)

// WaitConfig is the config of a wait node. Exactly one of Duration, Until and
// Signal is set; Timeout only goes with Signal.
type WaitConfig struct {
	Duration string `json:"duration,omitempty"` // Go duration: a durable timer
	Until    string `json:"until,omitempty"`    // CEL timestamp (or RFC 3339 string): a timer to that instant
	Signal   string `json:"signal,omitempty"`   // signal name: the node's output is the signal's JSON payload
	Timeout  string `json:"timeout,omitempty"`  // with Signal: `on: timeout` edges fire when it passes
}

func waitNodeType() NodeType {
	return NodeType{
		Name:        "wait",
		Kind:        KindWorkflow,
		Outcomes:    []string{OutcomeTimeout},
		CheckConfig: checkWaitConfig,
	}
}

func decodeWaitConfig(raw json.RawMessage) (WaitConfig, error) {
	var c WaitConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&c)
	return c, err
}

func checkWaitConfig(raw json.RawMessage, exprs ExprChecker) []Problem {
	v := validator{exprs: exprs}
	c, err := decodeWaitConfig(raw)
	if err != nil {
		return []Problem{{Code: CodeInvalidConfig, Message: "wait config: " + decodeMessage(err)}}
	}
	set := 0
	for _, s := range []string{c.Duration, c.Until, c.Signal} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		v.add("", CodeInvalidConfig, "a wait node needs exactly one of duration, until or signal")
	}
	if c.Duration != "" {
		checkDuration(&v, "duration", c.Duration)
	}
	if c.Until != "" {
		if _, err := time.Parse(time.RFC3339, c.Until); err != nil {
			v.checkExpr("until", c.Until)
		}
	}
	if c.Signal != "" && !nodeIDPattern.MatchString(c.Signal) {
		v.add("signal", CodeInvalidConfig, "signal name %q must be letters, digits or '_' (it appears in the signal URL)", c.Signal)
	}
	if c.Timeout != "" {
		if c.Signal == "" {
			v.add("timeout", CodeInvalidConfig, "timeout only applies to a signal wait")
		}
		checkDuration(&v, "timeout", c.Timeout)
	}
	return v.problems
}
