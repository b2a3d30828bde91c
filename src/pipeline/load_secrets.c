/*
 * load_secrets: the `secrets:` declarations of a pipeline, and the
 * diagnostics of ${{ secrets.X }} used where it may not be (load_internal.h).
 */
#include "pipeline/load_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "pipeline/secrets.h"
#include "pipeline/yaml.h"

static const char *const secret_keys[] = { "description", "required" };

void ld_load_secrets(struct loader *L, const struct ynode *n)
{
	if (ynode_is_null(n) || !ld_expect_kind(L, n, YNODE_MAP, "secrets"))
		return;
	struct pipeline *p = L->p;
	p->secrets = arena_array(L->a, n->n, sizeof(*p->secrets));
	/* Two names that make one environment variable could not both be given. */
	struct map vars = MAP_INIT;
	struct buf var = BUF_INIT;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		if (!ld_is_key_name(k->str)) {
			ld_err(L, k, "bad secret name '%s': use letters, digits, _ and -, starting with a letter or _",
			       k->str);
			continue;
		}
		struct secret_decl *s = &p->secrets[p->nsecrets];
		memset(s, 0, sizeof(*s));
		s->name = k->str;
		s->pos = ld_pos_of(k);
		s->required = true;
		bool ok = true;
		if (!ynode_is_null(v)) {
			if (!ld_expect_kind(L, v, YNODE_MAP, "a secret declaration"))
				continue;
			ld_check_keys(L, v, secret_keys, sizeof(secret_keys) / sizeof(secret_keys[0]),
				      "a secret declaration");
			const struct ynode *x;
			if ((x = ynode_get(v, "description")))
				ok = (s->description = ld_get_str(L, x, "description")) != NULL;
			if ((x = ynode_get(v, "required")))
				ok = ld_get_bool(L, x, "required", &s->required) && ok;
		}
		/* A duplicate name was reported by the YAML layer; keep the first. */
		if (!ok || map_find(&L->secrets, s->name, NULL))
			continue;
		buf_reset(&var);
		secret_env_var(s->name, &var);
		size_t first;
		/* The map borrows its keys: this one lives with the pipeline. */
		if (!map_add(&vars, arena_strdup(L->a, var.s), p->nsecrets, &first)) {
			ld_err(L, k, "secrets '%s' and '%s' would both be read from %s: rename one",
			       p->secrets[first].name, s->name, var.s);
			continue;
		}
		map_add(&L->secrets, s->name, p->nsecrets, NULL);
		p->nsecrets++;
	}
	buf_release(&var);
	map_release(&vars);
}

void ld_secret_misplaced(struct loader *L, struct pos pos, const struct expr_ref *ref,
			 const char *where)
{
	char *name = xstrndup(ref->key, ref->keylen);
	struct buf key = BUF_INIT;
	secret_env_key(name, &key);
	if (!strcmp(where, "run"))
		ld_err_at(L, pos, "${{ secrets.%s }} is not allowed in run: a command line is visible in ps and in logs; "
			  "put it in env: (%s: ${{ secrets.%s }}) and use \"$%s\" in the command",
			  name, key.s, name, key.s);
	else if (!strcmp(where, "http-check urls"))
		ld_err_at(L, pos, "${{ secrets.%s }} is not allowed in http-check urls: a url is shown in logs and events; "
			  "send the secret in a header instead (headers: {Authorization: ${{ secrets.%s }}})",
			  name, name);
	else
		ld_err_at(L, pos, "${{ secrets.%s }} is not allowed in %s: what is written there is shown in plans, logs "
			  "or events; a secret reaches a step only through env: (%s: ${{ secrets.%s }}, then $%s) "
			  "and http-check headers",
			  name, where, key.s, name, key.s);
	buf_release(&key);
	free(name);
}

void ld_secret_unknown(struct loader *L, struct pos pos, const struct expr_ref *ref)
{
	char *name = xstrndup(ref->key, ref->keylen);
	const struct pipeline *p = L->p;
	const char **names = xmalloc((p->nsecrets + 1) * sizeof(*names));
	for (size_t i = 0; i < p->nsecrets; i++)
		names[i] = p->secrets[i].name;
	const char *s = suggest_closest(name, names, p->nsecrets);
	if (s)
		ld_err_at(L, pos, "unknown secret '%s'; did you mean '%s'?", name, s);
	else
		ld_err_at(L, pos, "unknown secret '%s' (declare it under secrets:)", name);
	free(names);
	free(name);
}
