/*
 * "Did you mean" suggestions: the closest candidate by edit distance,
 * ignoring case, when it is close enough to be a plausible typo.
 */
#ifndef LS_SUGGEST_H
#define LS_SUGGEST_H

#include <stddef.h>

/* Edit distance (insert, delete, substitute, transpose), case-insensitive. */
size_t suggest_distance(const char *a, const char *b);
/*
 * Returns the candidate closest to `word`, or NULL when none is within
 * strlen(word) / 3 edits (at least 1 for words of three or more
 * characters; words shorter than that match only a change of case).
 * Candidates equal to `word` are skipped.
 */
const char *suggest_closest(const char *word, const char *const *cands, size_t n);

#endif
