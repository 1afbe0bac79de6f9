package codec

import (
	"bytes"
	"errors"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// A history written with the codec reads as a plain one after
// DecodeMessage: inputs decrypted, failure messages restored.
func TestDecodeMessage(t *testing.T) {
	c := mustCodec(t, "k1="+newSecret(t))
	dc, fc := c.Converters()
	input, err := dc.ToPayloads(map[string]string{"password": "Hist0ry-Secret"})
	if err != nil {
		t.Fatal(err)
	}
	failure := fc.ErrorToFailure(
		temporal.NewNonRetryableApplicationError("card pm_hist_secret declined", "PaymentDeclined", errors.New("cause text")))
	if failure.GetMessage() != "Encoded failure" {
		t.Fatalf("failure message %q is not encoded", failure.GetMessage())
	}
	h := &historypb.History{Events: []*historypb.HistoryEvent{
		{EventId: 1, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: input}}},
		{EventId: 2, Attributes: &historypb.HistoryEvent_WorkflowExecutionFailedEventAttributes{
			WorkflowExecutionFailedEventAttributes: &historypb.WorkflowExecutionFailedEventAttributes{Failure: failure}}},
	}}
	raw, _ := proto.Marshal(h)
	for _, s := range []string{"Hist0ry-Secret", "pm_hist_secret", "cause text"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("encoded history contains %q", s)
		}
	}

	if err := c.DecodeMessage(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	got := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0]
	if string(got.GetMetadata()["encoding"]) != "json/plain" || !bytes.Contains(got.GetData(), []byte("Hist0ry-Secret")) {
		t.Fatalf("input not decoded: %v", got)
	}
	f := h.Events[1].GetWorkflowExecutionFailedEventAttributes().GetFailure()
	if f.GetMessage() != "card pm_hist_secret declined" || f.GetEncodedAttributes() != nil {
		t.Fatalf("failure not decoded: %v", f)
	}
	if f.GetCause().GetMessage() != "cause text" {
		t.Fatalf("cause not decoded: %v", f.GetCause())
	}
}
