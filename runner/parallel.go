package runner

import "sync"

// forEachPoint calls fn for every point of s: in order when parallel is 1;
// otherwise the points are dealt out to parallel slots as Compile assigned
// them (point k on slot k mod parallel), each slot working through its
// points in order, the slots side by side. It returns when every call has.
func forEachPoint(s *StudyPlan, parallel int, fn func(i int, pt *PointPlan)) {
	if parallel <= 1 {
		for i, pt := range s.Points {
			fn(i, pt)
		}
		return
	}
	var wg sync.WaitGroup
	for slot := range min(parallel, len(s.Points)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := slot; i < len(s.Points); i += parallel {
				fn(i, s.Points[i])
			}
		}()
	}
	wg.Wait()
}
