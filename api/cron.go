package api

import (
	"fmt"
	"strconv"
	"strings"
)

// A schedule's cron is checked here before it reaches Temporal, so that a
// bad one is a 400 listing what is wrong with each field rather than the
// server's InvalidArgument. The grammar is standard cron, a subset of what
// Temporal's CronString accepts (so anything accepted here, Temporal
// accepts too, with the same meaning):
//
//   - five fields: minute (0-59), hour (0-23), day of month (1-31), month
//     (1-12 or jan-dec), day of week (0-7, 0 and 7 are Sunday, or sun-sat);
//   - each field a comma list of items: *, a value, a range a-b, each
//     optionally /step (a/step runs from a to the field's maximum);
//   - or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight,
//     @hourly.
//
// Left out on purpose: Temporal's seconds and year fields, its CRON_TZ=
// prefix (schedules run in UTC), "# comments" (which would make "1#2"
// silently mean "1") and @every (the request's "every" says that).

// cronField is one field of a cron expression.
type cronField struct {
	name     string
	min, max int
	// names are the three-letter names of values min, min+1, …
	names []string
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// cronMacros are the shorthands Temporal expands.
var cronMacros = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkCron returns what is wrong with a cron expression, one message per
// problem (nil when it is valid).
func checkCron(expr string) []string {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "@") {
		for _, m := range cronMacros {
			if expr == m {
				return nil
			}
		}
		return []string{fmt.Sprintf("%q is not one of %s (for an interval, give every instead of cron)", expr, strings.Join(cronMacros, ", "))}
	}
	fields := strings.Fields(expr)
	if len(fields) != len(cronFields) {
		return []string{fmt.Sprintf("a cron expression has 5 fields (minute hour day-of-month month day-of-week), %q has %d", expr, len(fields))}
	}
	var problems []string
	for i, f := range cronFields {
		for _, item := range strings.Split(fields[i], ",") {
			if msg := f.checkItem(item); msg != "" {
				problems = append(problems, fmt.Sprintf("%s: %s", f.name, msg))
			}
		}
	}
	return problems
}

// checkItem checks one item of a field's comma list: "" when it is valid.
func (f cronField) checkItem(item string) string {
	rng, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 {
			return fmt.Sprintf("%q: the step after / must be a whole number of at least 1", item)
		}
	}
	if rng == "*" {
		return ""
	}
	notAValue := func(v string) string {
		if v == item {
			return fmt.Sprintf("%q is not %s", v, f.allowed())
		}
		return fmt.Sprintf("%q: %q is not %s", item, v, f.allowed())
	}
	lo, hi, isRange := strings.Cut(rng, "-")
	start, ok := f.value(lo)
	if !ok {
		return notAValue(lo)
	}
	if !isRange {
		return ""
	}
	end, ok := f.value(hi)
	switch {
	case !ok:
		return notAValue(hi)
	case end < start:
		return fmt.Sprintf("%q: the range ends before it starts", item)
	}
	return ""
}

// value parses a number in the field's range or one of its names.
func (f cronField) value(s string) (int, bool) {
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, true
		}
	}
	if s == "" || len(s) > 4 || strings.Trim(s, "0123456789") != "" {
		return 0, false // no signs, no spaces (Atoi would take "+5")
	}
	n, _ := strconv.Atoi(s)
	return n, n >= f.min && n <= f.max
}

// allowed says in words what a value of the field may be.
func (f cronField) allowed() string {
	if len(f.names) > 0 {
		return fmt.Sprintf("a number from %d to %d or a name %s-%s", f.min, f.max, f.names[0], f.names[len(f.names)-1])
	}
	return fmt.Sprintf("a number from %d to %d", f.min, f.max)
}
