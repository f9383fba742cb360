import { clientOwner, ownerHeading, ownerShown } from './owner-text';

const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');

describe('client owner as text', () => {
  it('decodes a printable owner (ASCII or UTF-8) as text', () => {
    expect(clientOwner(hex('Linux NFSv4.2 host1'))).toEqual({ id: hex('Linux NFSv4.2 host1'), encoding: 'text', text: 'Linux NFSv4.2 host1' });
    expect(clientOwner(hex('nœud-é 名'))).toMatchObject({ encoding: 'text', text: 'nœud-é 名' });
  });

  it('keeps hex for binary owners, invalid UTF-8, control characters, bidi overrides and the empty owner', () => {
    for (const id of ['0a0b0c', 'c0ffee', hex('host\n2026 INFO forged'), hex('a\x1b[2Jb'), hex('abc\u202edef'), hex('x\u2028y'), hex('del\x7f'), '', 'ABCD', 'abc']) {
      expect(clientOwner(id)).toEqual({ id, encoding: 'hex' });
    }
  });

  it('shows text quoted (JSON-escaped) and hex bare, and says which in a heading', () => {
    expect(ownerShown(hex('Linux "NFS" \\ x'))).toBe('"Linux \\"NFS\\" \\\\ x"');
    expect(ownerShown('0a0b0c')).toBe('0a0b0c');
    expect(ownerHeading(hex('Linux NFS'))).toBe(`"Linux NFS" (owner as text, id ${hex('Linux NFS')})`);
    expect(ownerHeading('0a0b0c')).toBe('0a0b0c (owner as hex)');
    expect(ownerHeading('')).toBe('"" (owner as hex)');
  });
});
