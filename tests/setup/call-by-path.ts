// Calling a tRPC procedure by its dotted path ("greetings.create"), as an HTTP client would:
// for kinds registered at run time (tests/integration/kit-walkthrough.test.ts, the bench's note
// kind), whose routers the static AppRouter type cannot know.
export type CallByPath = (path: string, input: unknown) => Promise<unknown>;

export function callByPath(caller: unknown): CallByPath {
  return async (path, input) => {
    let node: unknown = caller;
    for (const key of path.split(".")) {
      if ((typeof node !== "object" && typeof node !== "function") || node === null) throw new Error(`no procedure ${path}`);
      node = Reflect.get(node, key);
    }
    if (typeof node !== "function") throw new Error(`no procedure ${path}`);
    const result: unknown = await node(input);
    return result;
  };
}
