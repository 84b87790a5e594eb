/*
 * audit_report_chart.c — the months section of `borsellino audit report`:
 * the money funded, spent and expired by Europe/Rome calendar month
 * (summed by tools/audit_report_data.c) as an inline SVG bar chart and a
 * table, and the verdict of report_judge on whether they add up to the
 * funder statements (months.matches_statements).
 *
 * Invariants: the chart and the table cover the same months, every month
 * from the first to the last with a welfare posting, empty ones included;
 * the bars are scaled to the largest figure drawn, and a figure above zero
 * is never drawn as an invisible bar. Only the table carries the figures
 * for machines (month.YYYY-MM.*, months.total.*); the chart's amounts are
 * for people (see tools/audit_report_html.c for the names).
 *
 * Workload: one table line and one group of three bars per month; the
 * months of a journal a few years long are a few dozen.
 */
#include <assert.h>
#include <stdio.h>

#include "audit_report.h"

/* The chart's geometry, in px. */
enum {
    CHART_PLOT_HEIGHT = 220,
    CHART_BAR_WIDTH = 14,
    CHART_GROUP_GAP = 18,
    CHART_MARGIN_LEFT = 104,
    CHART_MARGIN_RIGHT = 16,
    CHART_MARGIN_TOP = 72, /* room for the figures written above the bars */
    CHART_MARGIN_BOTTOM = 40,
    CHART_GRID_LINES = 4,
    /* Bars per month: funded, spent, expired (chart_series). */
    CHART_SERIES = 3,
};

/* The monthly figures' names, by MONTH_* index. */
static const char *const month_figure_names[MONTH_FIGURES] = {
    "funded", "spent", "refunded", "expired_back", "forfeited", "expired"};

/* The three series of the chart, with their colours. */
static const struct {
    int figure;
    const char *label;
    const char *colour;
} chart_series[CHART_SERIES] = {
    {MONTH_FUNDED, "funded", "#2b6cb0"},
    {MONTH_SPENT, "spent", "#2f855a"},
    {MONTH_EXPIRED, "expired", "#c05621"},
};

static report_wide_t chart_max(const report_months_t *months) {
    report_wide_t max = 0;
    for (uint32_t i = months->first; i <= months->last; i++) {
        report_wide_t figures[MONTH_FIGURES];
        report_month_figures(months, i, figures);
        for (int s = 0; s < CHART_SERIES; s++) {
            if (figures[chart_series[s].figure] > max) max = figures[chart_series[s].figure];
        }
    }
    return max;
}

static void chart_axis(FILE *out, report_wide_t max, int width) {
    for (int g = 0; g <= CHART_GRID_LINES; g++) {
        int y = CHART_MARGIN_TOP + CHART_PLOT_HEIGHT - CHART_PLOT_HEIGHT * g / CHART_GRID_LINES;
        char amount[REPORT_AMOUNT_TEXT_SIZE];
        report_side_amount(report_side_of(max * (report_wide_t)g / CHART_GRID_LINES), true,
                           amount);
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", CHART_MARGIN_LEFT, y,
                width - CHART_MARGIN_RIGHT, y, g == 0 ? "#4a5568" : "#e2e8f0",
                CHART_MARGIN_LEFT - 6, y + 4, amount);
    }
}

/* One month's group of bars, each with its figure as a tooltip. */
static void chart_group(FILE *out, const report_months_t *months, uint32_t index, int x,
                        report_wide_t max) {
    assert(max > 0);
    assert(index >= months->first);
    assert(index <= months->last);
    report_wide_t figures[MONTH_FIGURES];
    report_month_figures(months, index, figures);
    char label[REPORT_MONTH_TEXT_SIZE];
    report_month_label(index, label);
    for (int s = 0; s < CHART_SERIES; s++) {
        report_wide_t value = figures[chart_series[s].figure];
        assert(value <= max);
        int height = (int)(value * CHART_PLOT_HEIGHT / max);
        if (value > 0 && height == 0) height = 1; /* visible, however small */
        char amount[REPORT_AMOUNT_TEXT_SIZE];
        report_side_amount(report_side_of(value), true, amount);
        int bar_x = x + s * CHART_BAR_WIDTH;
        int bar_y = CHART_MARGIN_TOP + CHART_PLOT_HEIGHT - height;
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                "<title>%s %s: %s EUR</title></rect>\n", bar_x, bar_y, CHART_BAR_WIDTH, height,
                chart_series[s].colour, label, chart_series[s].label, amount);
        /* The figure itself, written upwards from the top of its bar. */
        if (value > 0) {
            fprintf(out, "<text class=\"figure\" transform=\"translate(%d %d) rotate(-90)\">"
                    "%s</text>\n", bar_x + CHART_BAR_WIDTH - 3, bar_y - 3, amount);
        }
    }
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
            x + CHART_SERIES * CHART_BAR_WIDTH / 2, CHART_MARGIN_TOP + CHART_PLOT_HEIGHT + 16,
            label);
}

static void page_chart(FILE *out, const report_months_t *months) {
    report_wide_t max = chart_max(months);
    if (max == 0) {
        fputs("<p>Nothing funded, spent or expired in these months.</p>\n", out);
        return;
    }
    assert(months->any);
    assert(months->first <= months->last);
    int group = CHART_SERIES * CHART_BAR_WIDTH + CHART_GROUP_GAP;
    int groups = (int)(months->last - months->first + 1);
    int width = CHART_MARGIN_LEFT + groups * group + CHART_MARGIN_RIGHT;
    int height = CHART_MARGIN_TOP + CHART_PLOT_HEIGHT + CHART_MARGIN_BOTTOM;
    fputs("<p class=\"legend\">", out);
    for (int s = 0; s < CHART_SERIES; s++) {
        fprintf(out, "<span style=\"background:%s\"></span>%s", chart_series[s].colour,
                chart_series[s].label);
    }
    fprintf(out, "</p>\n<div class=\"scroll\"><svg width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"Money funded, spent and expired by month, in euros\">\n",
            width, height, width, height);
    chart_axis(out, max, width);
    for (uint32_t i = months->first; i <= months->last; i++) {
        int x = CHART_MARGIN_LEFT + (int)(i - months->first) * group + CHART_GROUP_GAP / 2;
        chart_group(out, months, i, x, max);
    }
    fputs("</svg></div>\n", out);
}

/* A table line of six monthly figures under figure names PREFIX.NAME. */
static void months_line(FILE *out, const char *label, const char *prefix,
                        const report_wide_t figures[MONTH_FIGURES]) {
    char name[REPORT_FIGURE_NAME_SIZE];
    fputs("<td>", out);
    report_html_text(out, label);
    fputs("</td>", out);
    for (int k = 0; k < MONTH_FIGURES; k++) {
        report_figure_name(name, "%s.%s", prefix, month_figure_names[k]);
        report_cell_amount(out, name, report_side_of(figures[k]), true);
    }
}

static void page_months_table(FILE *out, const report_t *report, const report_verdict_t *v) {
    const report_months_t *months = &report->months;
    report_table_open(out, "<th>Month (Rome)</th><th class=\"num\">Funded</th>"
                           "<th class=\"num\">Spent</th><th class=\"num\">Refunded</th>"
                           "<th class=\"num\">Expired back</th><th class=\"num\">Forfeited</th>"
                           "<th class=\"num\">Expired</th>");
    for (uint32_t i = months->first; months->any && i <= months->last; i++) {
        char label[REPORT_MONTH_TEXT_SIZE], prefix[REPORT_FIGURE_NAME_SIZE];
        report_wide_t figures[MONTH_FIGURES];
        report_month_label(i, label);
        report_figure_name(prefix, "month.%s", label);
        report_month_figures(months, i, figures);
        fputs("<tr>", out);
        months_line(out, label, prefix, figures);
        fputs("</tr>\n", out);
    }
    fputs("<tr class=\"total\">", out);
    months_line(out, "Total", "months.total", months->totals);
    fputs("</tr>\n", out);
    report_table_close(out);
    fputs("<table>\n", out);
    report_row_flag(out, "Totals equal the funder statements' (Σ over funders)",
                    "months.matches_statements", v->months_match, "yes", "NO");
    fputs("</table>\n", out);
}

void report_page_months(FILE *out, const report_t *report, const report_verdict_t *v) {
    fputs("<h2 id=\"months\">Money funded, spent and expired by month</h2>\n<p class=\"note\">"
          "Calendar months in Italian time (Europe/Rome). <b>Funded</b>: funders' deposits. "
          "<b>Spent</b> is gross: immediate purchases and captured holds, at their capture, "
          "before refunds (open or voided holds are not spent); <b>refunded</b> is shown on its "
          "own, so net spending is spent &#8722; refunded. <b>Expired</b> = expired back to the "
          "funder + forfeited to the platform. The same postings the funder statements count, "
          "so the totals equal the sums of the statements.</p>\n", out);
    report_section_failure(out, "months", &report->months_failure);
    if (!report->months.any) {
        fputs("<p>No welfare postings.</p>\n", out);
    } else {
        page_chart(out, &report->months);
    }
    page_months_table(out, report, v);
}
