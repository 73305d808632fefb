package molensvc

// RoundTripForBenchmark decodes a batch and encodes its points as a
// result, as a pass-through module does, without WebAssembly: the
// codec's share of a call, for the host's encoding benchmark. It reuses
// its buffers, so it is not safe for concurrent use.
func RoundTripForBenchmark(batch []byte) []byte {
	var err error
	benchMod.in = append(benchMod.in[:0], batch...) // as the host writes it
	clear(benchMod.points)
	benchMod.points, err = benchMod.dec.decodeBatch(benchMod.points[:0], benchMod.in)
	if err != nil {
		return benchMod.fail(err)
	}
	benchMod.out.reset()
	benchMod.out.Points = append(benchMod.out.Points, benchMod.points...)
	return benchMod.ok()
}

var benchMod module
