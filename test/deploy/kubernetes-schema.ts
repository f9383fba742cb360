import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from './support';

/**
 * Validation of Kubernetes objects against the API's schemas as shipped by `kubernetes-models`
 * (generated from the Kubernetes OpenAPI document), in two passes:
 * - the package's own JSON-schema validators (types, formats, required fields, enums);
 * - strict mode, like kubeconform --strict: the same package's TypeScript interfaces, type-checked
 *   with the objects as literals, so that an unknown or misspelt field at any depth is an error
 *   (Kubernetes' schemas allow unknown fields, which the API server then silently drops).
 */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
  [key: string]: unknown;
}

/** `kubernetes-models/<group>/<version>/<Kind>`: core objects live under `v1/`. */
export function modelModule(o: Pick<K8sObject, 'apiVersion' | 'kind'>): string {
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

/** Schema problems of one object (an unknown apiVersion/kind is one too). */
export function schemaProblems(o: K8sObject): string[] {
  let model: Record<string, new (data: unknown) => { validate(): void }>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    model = require(modelModule(o)) as typeof model;
  } catch {
    return [`${o.apiVersion} ${o.kind}: no such kind in the Kubernetes API`];
  }
  try {
    new model[o.kind]!(o).validate();
    return [];
  } catch (err) {
    return [`${o.kind} ${o.metadata?.name ?? ''}: ${(err as Error).message}`];
  }
}

/** Fields the API does not know, at any depth, found by type-checking the objects as literals. */
export function unknownFieldProblems(objects: K8sObject[]): string[] {
  const dir = join(ROOT, '.tmp', 'deploy-k8s-strict');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `manifests-${process.pid}.ts`);
  const lines = objects.map((o, i) => [
    `import type { I${o.kind} as T${i} } from '${modelModule(o)}';`,
    `export const object${i}: T${i} = ${JSON.stringify(o, null, 1)};`,
  ].join('\n'));
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file, text);
  // The generated line where each object starts, to name the object a problem is in.
  const starts: number[] = [];
  lines.reduce((line, chunk) => (starts.push(line), line + chunk.split('\n').length), 0);
  const objectAt = (line: number) => objects[starts.filter((s) => s <= line).length - 1];
  const program = ts.createProgram([file], {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
  });
  const source = program.getSourceFile(file)!;
  const diagnostics = ts.getPreEmitDiagnostics(program, source);
  rmSync(file, { force: true });
  return diagnostics.map((d) => {
    const o = d.start === undefined ? undefined : objectAt(source.getLineAndCharacterOfPosition(d.start).line);
    const at = o ? `${o.kind} ${o.metadata?.name ?? ''}: ` : '';
    return `${at}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}
