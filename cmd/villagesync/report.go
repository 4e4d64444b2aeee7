package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/xuri/excelize/v2"

	"villagesync/election"
)

func runReport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "report", "--server URL --token TOKEN [--format table|json|csv|xlsx] [--out FILE] [--lang zh|en]")
	serverURL := fs.String("server", "", "server base URL")
	token := fs.String("token", "", "access token (villagesync admin token --role county|observer)")
	format := fs.String("format", "table", "table, json, csv or xlsx")
	out := fs.String("out", "", "write to FILE instead of standard output (required for xlsx)")
	lang := fs.String("lang", "zh", "table language: zh (简体中文) or en")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "token"); err != nil {
		return err
	}
	switch *format {
	case "table", "json", "csv", "xlsx":
	default:
		return fmt.Errorf("--format must be table, json, csv or xlsx, not %q", *format)
	}
	if *lang != "zh" && *lang != "en" {
		return fmt.Errorf("--lang must be zh or en, not %q", *lang)
	}
	if *format == "xlsx" && *out == "" {
		return fmt.Errorf("xlsx is a binary file: name it with --out FILE")
	}
	r := newRemote(*serverURL, *token)
	path := "/v1/report"
	if *format == "csv" {
		path += "?format=csv"
	}
	data, err := r.do(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	w := e.stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("create %s: %w", *out, err)
		}
		defer f.Close()
		w = f
	}
	var rep election.CountyReport
	if *format == "table" || *format == "xlsx" {
		if err := json.Unmarshal(data, &rep); err != nil {
			return fmt.Errorf("decode report: %w", err)
		}
	}
	switch *format {
	case "json":
		_, err = w.Write(append(data, '\n'))
	case "csv":
		_, err = w.Write(data)
	case "table":
		err = writeReportTable(w, &rep, *lang)
	case "xlsx":
		err = writeReportXLSX(w, &rep)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(e.stderr, "report written to %s\n", *out)
	}
	return nil
}

// reportLabels are the county summary lines, in both languages.
var reportLabels = []struct {
	zh, en string
	value  func(c *election.CountySummary) string
}{
	{"行政村", "villages", func(c *election.CountySummary) string { return fmt.Sprint(c.Villages) }},
	{"按期换届", "held on time", func(c *election.CountySummary) string {
		return fmt.Sprintf("%d (%.1f%%)", c.HeldOnTimeVillages, 100*c.HeldOnTime)
	}},
	{"一次性选举成功", "one-time success", func(c *election.CountySummary) string {
		return fmt.Sprintf("%d (%.1f%%)", c.OneTimeSuccessVillages, 100*c.OneTimeSuccess)
	}},
	{"新当选委员", "members elected", func(c *election.CountySummary) string { return fmt.Sprint(c.MembersElected) }},
	{"平均年龄（上届）", "average age (previous)", func(c *election.CountySummary) string {
		return fmt.Sprintf("%.1f (%.1f)", c.AvgAge, c.PrevAvgAge)
	}},
	{"大专及以上（占比，上届占比）", "college or above (share, previous)", func(c *election.CountySummary) string {
		return fmt.Sprintf("%d (%.1f%%, %.1f%%)", c.College, 100*c.CollegeShare, 100*c.PrevCollegeShare)
	}},
	{"督导次数", "supervision visits", func(c *election.CountySummary) string { return fmt.Sprint(c.SupervisionVisits) }},
	{"发现问题 / 已整改", "problems found / rectified", func(c *election.CountySummary) string {
		return fmt.Sprintf("%d / %d", c.ProblemsFound, c.ProblemsRectified)
	}},
	{"巡回检查问题 / 已整改", "inspection problems / rectified", func(c *election.CountySummary) string {
		return fmt.Sprintf("%d / %d", c.InspectionProblemsFound, c.InspectionProblemsRectified)
	}},
	{"重点村", "key villages", func(c *election.CountySummary) string { return fmt.Sprint(c.KeyVillages) }},
	{"培训演练（人次）", "training sessions (attendance)", func(c *election.CountySummary) string {
		return fmt.Sprintf("%d (%d)", c.TrainingSessions, c.TrainingAttendance)
	}},
	{"返乡党员", "returned members", func(c *election.CountySummary) string { return fmt.Sprint(c.ReturnedMembers) }},
	{"未决冲突", "open conflicts", func(c *election.CountySummary) string { return fmt.Sprint(c.OpenConflicts) }},
	{"规则违规", "rule violations", func(c *election.CountySummary) string { return fmt.Sprint(c.RuleViolations) }},
}

// townshipColumns are the township table's columns.
var townshipColumns = []struct{ zh, en string }{
	{"乡镇", "township"}, {"村数", "villages"}, {"按期换届", "held"}, {"一次性成功", "one-time"},
	{"当选委员", "elected"}, {"督导", "visits"}, {"问题", "problems"}, {"已整改", "rectified"},
	{"冲突", "conflicts"}, {"违规", "violations"},
}

func townshipRow(t *election.TownshipSummary) []any {
	return []any{t.Name, t.Villages, t.HeldOnTimeVillages, t.OneTimeSuccessVillages, t.MembersElected,
		t.SupervisionVisits, t.ProblemsFound, t.ProblemsRectified, t.OpenConflicts, t.RuleViolations}
}

func writeReportTable(w io.Writer, rep *election.CountyReport, lang string) error {
	pick := func(zh, en string) string {
		if lang == "en" {
			return en
		}
		return zh
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s %s\n\n", rep.County.Name, pick("村党组织换届选举汇总", "village Party-organization elections"))
	c := &rep.County
	for _, l := range reportLabels {
		fmt.Fprintf(tw, "%s\t%s\n", pick(l.zh, l.en), l.value(c))
	}
	fmt.Fprintln(tw)
	for i, col := range townshipColumns {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, pick(col.zh, col.en))
	}
	fmt.Fprintln(tw)
	for i := range rep.Townships {
		for j, v := range townshipRow(&rep.Townships[i]) {
			if j > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, v)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func writeReportXLSX(w io.Writer, rep *election.CountyReport) error {
	f := excelize.NewFile()
	defer f.Close()
	const county, townships, villages = "县汇总", "乡镇", "村"
	if err := f.SetSheetName("Sheet1", county); err != nil {
		return err
	}
	for i, l := range reportLabels {
		if err := f.SetSheetRow(county, fmt.Sprintf("A%d", i+1), &[]any{l.zh, l.value(&rep.County)}); err != nil {
			return err
		}
	}
	if _, err := f.NewSheet(townships); err != nil {
		return err
	}
	head := make([]any, len(townshipColumns))
	for i, col := range townshipColumns {
		head[i] = col.zh
	}
	if err := f.SetSheetRow(townships, "A1", &head); err != nil {
		return err
	}
	for i := range rep.Townships {
		row := townshipRow(&rep.Townships[i])
		if err := f.SetSheetRow(townships, fmt.Sprintf("A%d", i+2), &row); err != nil {
			return err
		}
	}
	if _, err := f.NewSheet(villages); err != nil {
		return err
	}
	rules := map[election.RuleID]bool{}
	for _, v := range rep.Villages {
		for r := range v.Rules {
			rules[r] = true
		}
	}
	var ruleIDs []election.RuleID
	for r := range rules {
		ruleIDs = append(ruleIDs, r)
	}
	sort.Slice(ruleIDs, func(i, j int) bool { return ruleIDs[i] < ruleIDs[j] })
	vhead := []any{"村代码", "村", "乡镇", "重点村", "状态", "按期换届", "一次性选举成功", "当选委员", "冲突", "违规"}
	for _, r := range ruleIDs {
		vhead = append(vhead, string(r))
	}
	if err := f.SetSheetRow(villages, "A1", &vhead); err != nil {
		return err
	}
	for i, v := range rep.Villages {
		row := []any{v.Code, v.Name, v.Township, v.KeyVillage, v.Status, v.HeldOnTime, v.OneTimeSuccess, v.MembersElected, v.OpenConflicts, v.RuleViolations}
		for _, r := range ruleIDs {
			row = append(row, string(v.Rules[r]))
		}
		if err := f.SetSheetRow(villages, fmt.Sprintf("A%d", i+2), &row); err != nil {
			return err
		}
	}
	_, err := f.WriteTo(w)
	return err
}
