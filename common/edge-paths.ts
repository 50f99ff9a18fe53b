// Paths every edge serves beside the streams' files, named once for the edge's nginx config and
// for the manifests that point players at them. Leaf module.

/** The edge's clock (ISO 8601, no cache): the MPD's UTCTiming source, so DASH players sync offline. */
export const EDGE_TIME_PATH = '/_time';
