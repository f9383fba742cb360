import { copyArray, copyValue } from './copy-in';

describe('COPY text format', () => {
  it('writes nulls, numbers and booleans, and escapes what COPY would misread', () => {
    expect(copyValue(null)).toBe('\\N');
    expect(copyValue(undefined)).toBe('\\N');
    expect(copyValue(42)).toBe('42');
    expect(copyValue(true)).toBe('true');
    expect(copyValue('plain')).toBe('plain');
    expect(copyValue('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyValue('{"k":"q\\"uote"}')).toBe('{"k":"q\\\\"uote"}');
  });

  it('writes id arrays bare, and quotes anything else (NULL included, which would read as a null element)', () => {
    expect(copyArray(['0a0b', 'node-1.x:y_z'])).toBe('{0a0b,node-1.x:y_z}');
    expect(copyArray([])).toBe('{}');
    expect(copyArray(null)).toBe('\\N');
    expect(copyArray(['NULL'])).toBe('{"NULL"}');
    expect(copyArray(['a b', 'q"x', 'back\\slash', 'tab\there'])).toBe('{"a b","q\\\\"x","back\\\\\\\\slash","tab\\there"}');
  });
});
