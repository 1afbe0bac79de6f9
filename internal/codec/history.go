package codec

import (
	"context"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// DecodeMessage decrypts, in place, every payload of msg (a history, an
// event, any API message) and restores the messages and stack traces that
// FailureConverter moved into encoded attributes: the message then reads
// as if encryption had been off. Exported histories decoded this way replay
// without keys (the recorded corpus of interpreter/testdata is kept so).
func (c *Codec) DecodeMessage(ctx context.Context, msg proto.Message) error {
	err := proxy.VisitPayloads(ctx, msg, proxy.VisitPayloadsOptions{
		// Search attributes are never encoded by a codec.
		SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return c.Decode(ps)
		},
	})
	if err != nil {
		return err
	}
	plain := converter.GetDefaultDataConverter()
	return proxy.VisitFailures(ctx, msg, proxy.VisitFailuresOptions{
		Visitor: func(_ *proxy.VisitFailuresContext, f *failurepb.Failure) error {
			if f.GetEncodedAttributes() != nil {
				converter.DecodeCommonFailureAttributes(plain, f)
				f.EncodedAttributes = nil
			}
			return nil
		},
	})
}
