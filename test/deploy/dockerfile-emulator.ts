import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { repoFile, ROOT } from './support';

/**
 * Runs deploy/Dockerfile without a container engine, far enough to check what the image would
 * hold: the build stage's COPY and RUN steps run for real in a directory standing for its root
 * (the build context filtered by .dockerignore), and the final stage's COPY --from steps copy the
 * results into another. The final stage's own RUN steps (creating the user) change the system and
 * are not run; ENV, HEALTHCHECK and ENTRYPOINT are returned with image paths mapped to the
 * directory. Only what deploy/Dockerfile uses is supported; anything else throws.
 */

export interface EmulatedImage {
  root: string;
  env: Record<string, string>;
  /** Maps an absolute path inside the image to the emulated tree. */
  path(imagePath: string): string;
  entrypoint: string[];
  healthcheck: string[];
  /** RUN steps of the final stage, not run (system changes such as useradd). */
  skipped: string[];
}

interface Stage { name?: string; instructions: Instruction[] }

function stages(text: string): Stage[] {
  const result: Stage[] = [];
  for (const i of DockerfileParser.parse(text).getInstructions()) {
    if (i.getKeyword() === 'FROM') {
      const words = i.getArguments().map((a) => a.getValue());
      result.push({ name: words[2], instructions: [] });
    } else if (result.length) {
      result[result.length - 1]!.instructions.push(i);
    }
  }
  return result;
}

const flag = (i: Instruction, name: string) =>
  (i as unknown as { getFlags(): Array<{ getName(): string; getValue(): string | null }> }).getFlags().find((f) => f.getName() === name)?.getValue() ?? undefined;
const words = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** JSON-array form of HEALTHCHECK CMD / ENTRYPOINT. */
const execForm = (text: string) => JSON.parse(text.slice(text.indexOf('['))) as string[];

/** .dockerignore patterns as a predicate over context-relative paths. */
function dockerignore(): (path: string) => boolean {
  const patterns = repoFile('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const regexes = patterns.map((p) => new RegExp(`^${p.split('/').map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))).join('/')}(/.*)?$`));
  return (path) => regexes.some((r) => r.test(path));
}

/** The build context: files git would ship (tracked or new, not git-ignored) minus .dockerignore. */
function contextFiles(): string[] {
  const ignored = dockerignore();
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter((f) => f && !ignored(f));
}

function copyFromContext(sources: string[], destination: string): void {
  const files = contextFiles();
  for (const source of sources) {
    const wanted = source === '.' ? files : files.filter((f) => f === source || f.startsWith(`${source}/`));
    if (!wanted.length) throw new Error(`COPY ${source}: not in the build context`);
    for (const f of wanted) {
      // A file goes to the destination (into it when it ends with /); a directory's contents go into it.
      const target = source === '.' ? join(destination, f)
        : f === source ? (destination.endsWith('/') ? join(destination, posix.basename(f)) : destination)
        : join(destination, f.slice(source.length + 1));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(join(ROOT, f), target);
    }
  }
}

export function emulateDockerfile(workDir: string, log: (line: string) => void): EmulatedImage {
  const all = stages(repoFile('deploy/Dockerfile'));
  const roots = new Map<string, string>();
  let image: EmulatedImage | undefined;
  all.forEach((stage, index) => {
    const root = join(workDir, stage.name ?? `stage-${index}`);
    const final = index === all.length - 1;
    const env: Record<string, string> = {};
    const skipped: string[] = [];
    let workdir = '/';
    let entrypoint: string[] = [];
    let healthcheck: string[] = [];
    mkdirSync(root, { recursive: true });
    for (const i of stage.instructions) {
      const keyword = i.getKeyword();
      const inImage = (p: string) => join(root, posix.resolve(workdir, p));
      const cwd = inImage('.');
      switch (keyword) {
        case 'ARG': case 'USER': case 'EXPOSE': case 'CMD':
          break;
        case 'WORKDIR':
          workdir = posix.resolve(workdir, words(i)[0]!);
          mkdirSync(inImage('.'), { recursive: true });
          break;
        case 'ENV':
          for (const w of words(i)) env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
          break;
        case 'COPY': {
          const [sources, destination] = [words(i).slice(0, -1), words(i).at(-1)!];
          const from = flag(i, 'from');
          if (from === undefined) {
            copyFromContext(sources, inImage(destination) + (destination.endsWith('/') ? '/' : ''));
          } else {
            const fromRoot = roots.get(from);
            if (!fromRoot) throw new Error(`COPY --from=${from}: no such stage`);
            for (const source of sources) {
              const from = join(fromRoot, source);
              // A file goes into a destination directory; a directory's contents go into the destination.
              const into = statSync(from).isFile() && (destination.endsWith('/') || existsSync(inImage(destination)));
              cpSync(from, into ? join(inImage(destination), posix.basename(source)) : inImage(destination), { recursive: true });
            }
          }
          break;
        }
        case 'RUN': {
          const command = i.getArgumentsContent() ?? '';
          if (final) { skipped.push(command); break; }
          log(`RUN ${command}`);
          execFileSync('sh', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: 'pipe', maxBuffer: 64 << 20 });
          break;
        }
        case 'HEALTHCHECK':
          healthcheck = execForm(i.getArgumentsContent() ?? '');
          break;
        case 'ENTRYPOINT':
          entrypoint = execForm(i.getArgumentsContent() ?? '');
          break;
        default:
          throw new Error(`the emulator does not support ${keyword}`);
      }
    }
    if (stage.name) roots.set(stage.name, root);
    if (final) image = { root, env, entrypoint, healthcheck, skipped, path: (p) => join(root, p) };
  });
  return image!;
}
