/*
 * imap_date: RFC 5322 3.3 date-time with the obsolete forms of 4.3
 * (two- and three-digit years, named and military zones, comments
 * anywhere), and leniently a missing day of week, missing seconds or
 * missing zone (taken as UTC). For SEARCH SENTBEFORE/SENTON/SENTSINCE
 * and SORT DATE. Runs in imapd's session process as the mail owner.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "imap_mime_int.h"

struct dscan {
	const char	*p, *end;
};

static void
skip(struct dscan *d)
{
	d->p = mime_skip_cfws(d->p, d->end);
}

/* 1 to max digits; -1 when none. */
static long
num(struct dscan *d, int max)
{
	long v = 0;
	int n = 0;

	while (d->p < d->end && n < max && *d->p >= '0' && *d->p <= '9') {
		v = v * 10 + (*d->p++ - '0');
		n++;
	}
	return n == 0 ? -1 : v;
}

static int
alpha_len(const struct dscan *d)
{
	const char *p = d->p;

	while (p < d->end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		p++;
	return (int)(p - d->p);
}

static int
month(struct dscan *d)
{
	static const char m[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int n = alpha_len(d), i;

	if (n < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (strncasecmp(d->p, m + 3 * i, 3) == 0) {
			d->p += n;	/* "Sept", "January" too */
			return i;
		}
	return -1;
}

/* RFC 5322 4.3 obs-zone; military zones other than Z are taken as 0 as it says. */
static int
zone_name(struct dscan *d, int *off)
{
	static const struct {
		const char	*n;
		int		 h;
	} z[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	int n = alpha_len(d);
	size_t i;

	if (n == 0)
		return -1;
	*off = 0;
	for (i = 0; i < sizeof(z) / sizeof(z[0]); i++)
		if ((size_t)n == strlen(z[i].n) && strncasecmp(d->p, z[i].n, n) == 0)
			*off = z[i].h * 3600;
	d->p += n;
	return 0;
}

static int
zone(struct dscan *d, int *off)
{
	const char *s;
	long v;
	int sign;

	skip(d);
	*off = 0;
	if (d->p >= d->end)
		return 0;	/* missing: UTC */
	if (*d->p != '+' && *d->p != '-')
		return zone_name(d, off);
	sign = *d->p++ == '-' ? -1 : 1;
	s = d->p;
	v = num(d, 4);
	if (v < 0 || d->p - s != 4 || v % 100 > 59)
		return -1;
	*off = sign * (int)((v / 100) * 3600 + (v % 100) * 60);
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long
days_from_civil(long y, int m, int dd)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (long long)era * 146097 + doe - 719468;
}

static int
mdays(long y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m];
}

/* hour ":" minute [":" second] */
static int
clock_read(struct dscan *d, long *h, long *mi, long *sec)
{
	skip(d);
	if ((*h = num(d, 2)) < 0 || (skip(d), d->p >= d->end) || *d->p != ':')
		return -1;
	d->p++;
	skip(d);
	if ((*mi = num(d, 2)) < 0)
		return -1;
	*sec = 0;
	skip(d);
	if (d->p < d->end && *d->p == ':') {
		d->p++;
		skip(d);
		if ((*sec = num(d, 2)) < 0)
			return -1;
	}
	return *h > 23 || *mi > 59 || *sec > 60 ? -1 : 0;
}

int
imap_date_parse(const char *s, size_t len, time_t *t, int *tzoff)
{
	struct dscan d = { s, s + len };
	const char *ys;
	long day, year, h, mi, sec;
	int mon, off;
	long long v;

	skip(&d);
	if (alpha_len(&d) >= 3) {	/* [day-of-week ","] */
		d.p += alpha_len(&d);
		skip(&d);
		if (d.p < d.end && *d.p == ',')
			d.p++;
		skip(&d);
	}
	if ((day = num(&d, 2)) < 1)
		return -1;
	skip(&d);
	if (d.p < d.end && *d.p == '-')	/* "1-Jan-2024" as some write it */
		d.p++;
	if ((mon = month(&d)) < 0)
		return -1;
	skip(&d);
	if (d.p < d.end && *d.p == '-')
		d.p++;
	ys = d.p;
	if ((year = num(&d, 4)) < 0)
		return -1;
	if (d.p - ys == 2)	/* RFC 5322 4.3 */
		year += year < 50 ? 2000 : 1900;
	else if (d.p - ys == 3)
		year += 1900;
	if (year < 1900 || day > mdays(year, mon) || clock_read(&d, &h, &mi, &sec) == -1 ||
	    zone(&d, &off) == -1)
		return -1;
	v = days_from_civil(year, mon + 1, (int)day) * 86400LL + h * 3600 +
	    mi * 60 + (sec == 60 ? 59 : sec) - off;
	if (sizeof(time_t) < 8 && (v < INT32_MIN || v > INT32_MAX))
		return -1;
	*t = (time_t)v;
	*tzoff = off;
	return 0;
}
