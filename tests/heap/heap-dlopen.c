/* heap-dlopen: loads libexpat with dlopen after start (the tracker does not
 * depend on it) and lets it allocate (XML_ParserCreate), so the trace needs
 * a module record made after start. Prints "no libexpat" without it. */
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
	void *h = dlopen("libexpat.so.1", RTLD_NOW);
	if (!h) {
		printf("no libexpat\n");
		return 0;
	}
	void *(*create)(const char *) = (void *(*)(const char *))dlsym(h, "XML_ParserCreate");
	void (*destroy)(void *) = (void (*)(void *))dlsym(h, "XML_ParserFree");
	if (!create || !destroy)
		return 1;
	void *p = create(NULL);
	destroy(p);
	dlclose(h);
	printf("parser %s\n", p ? "created" : "failed");
	return 0;
}
