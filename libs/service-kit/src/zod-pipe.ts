import { BadRequestException, PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { zodProblems } from '#contracts';

/** Validates a REST body or query against a zod schema; a bad one gets 400 with every problem listed. */
export class ZodBodyPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const parsed = this.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: zodProblems(parsed.error, 'body'),
    });
  }
}
