// Package promql is a small PromQL: a parser of the subset molen answers
// (vector selectors with label matchers, range selectors, rate, increase,
// delta, the *_over_time functions, the sum, avg, min, max and count
// aggregations with by/without, and arithmetic with numbers) and an engine
// that evaluates it over a Querier, within limits on series, points and
// steps. It knows nothing of UNS paths or storage: the series domain maps
// those onto labels and answers the Querier. Anything outside the subset is
// refused with a parse error naming it, never approximated.
package promql
