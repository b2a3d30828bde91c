#include "base/suggest.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

size_t suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	/* Names are short; refuse to spend quadratic time on hostile ones. */
	if (la > 256 || lb > 256)
		return la > lb ? la : lb;
	size_t w = lb + 1;
	size_t *d = xmalloc((la + 1) * w * sizeof(*d));
	for (size_t i = 0; i <= la; i++)
		d[i * w] = i;
	for (size_t j = 0; j <= lb; j++)
		d[j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			size_t cost = ca != cb;
			size_t best = d[(i - 1) * w + j] + 1;
			if (d[i * w + j - 1] + 1 < best)
				best = d[i * w + j - 1] + 1;
			if (d[(i - 1) * w + j - 1] + cost < best)
				best = d[(i - 1) * w + j - 1] + cost;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    d[(i - 2) * w + j - 2] + 1 < best)
				best = d[(i - 2) * w + j - 2] + 1;
			d[i * w + j] = best;
		}
	}
	size_t r = d[la * w + lb];
	free(d);
	return r;
}

const char *suggest_closest(const char *word, const char *const *cands, size_t n)
{
	/* Short words allow fewer edits: for a two-letter id like "FE", only a
	 * change of case ("Fe") is a plausible typo; "BE" is another barrier. */
	size_t len = strlen(word);
	size_t limit = len < 3 ? 0 : len / 3 < 1 ? 1 : len / 3;
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		if (!cands[i] || strcmp(cands[i], word) == 0)
			continue;
		/* The distance is at least the difference in length: skip early. */
		size_t lc = strlen(cands[i]);
		if ((lc > len ? lc - len : len - lc) > limit)
			continue;
		size_t dist = suggest_distance(word, cands[i]);
		if (dist <= limit && dist < best_d) {
			best = cands[i];
			best_d = dist;
		}
	}
	return best;
}
